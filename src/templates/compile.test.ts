/**
 * The code that compile.ts generates for output, `{% for %}` and `{% include %}` differs from
 * the code of Nunjucks 3.2.4. These tests render the same templates through FastBlocks and
 * through a stock Nunjucks environment and expect the same output or the same error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import nunjucks from 'nunjucks'
import { afterAll, describe, expect, test } from 'vitest'
import { TemplateError, TemplateNotFoundError, UndefinedVariableError } from '../errors/index.ts'
import { createTemplates, markSafe } from './index.ts'

const folder = mkdtempSync(path.join(tmpdir(), 'fastblocks-compile-'))
afterAll(() => {
  rmSync(folder, { recursive: true, force: true })
})

writeFileSync(
  path.join(folder, 'row.html'),
  '<li>[[ item ]] [[ loop.index ]]/[[ loop.length ]]</li>',
)
writeFileSync(path.join(folder, 'broken.html'), 'x\n[[ undefinedFunction() ]]')
writeFileSync(
  path.join(folder, 'layout.html'),
  '<main>{% block list %}{% endblock %}</main><footer>[[ title ]]</footer>',
)

const tags = { variableStart: '[[', variableEnd: ']]' }

/** Stock Nunjucks with the template settings of FastBlocks, `dev` included. */
function stockEnvironment(autoescape: boolean): nunjucks.Environment {
  return new nunjucks.Environment(new nunjucks.FileSystemLoader(folder), {
    autoescape,
    dev: true,
    tags,
  })
}

/** The output of a render, or its error message without the parts that name templates differently. */
type Outcome = { output: string } | { error: string }

function errorOutcome(error: unknown): Outcome {
  const message = error instanceof Error ? error.message : String(error)
  // FastBlocks starts with a sentence of its own and names templates by name, where stock
  // Nunjucks names them by path. Both repeat the prefix `Template render error: `.
  return {
    error: message
      .replace(/^Rendering template \S+ failed: /, '')
      .replaceAll('Template render error: ', '')
      .replaceAll(`${folder}${path.sep}`, ''),
  }
}

let templateCount = 0

/** Writes `source` as a new template and returns its name. */
function writeTemplate(source: string): string {
  templateCount += 1
  const name = `case-${templateCount}.html`
  writeFileSync(path.join(folder, name), source)
  return name
}

/**
 * Renders `source` through FastBlocks and through stock Nunjucks. `context` builds a fresh
 * context for each, because a template may change the objects it receives.
 */
async function renderBoth(
  source: string,
  context: () => Record<string, unknown>,
  autoescape = true,
): Promise<{ fastblocks: Outcome; stock: Outcome }> {
  const name = writeTemplate(source)
  let fastblocks: Outcome
  try {
    fastblocks = {
      output: await createTemplates({ directory: folder, autoescape }).render(name, context()),
    }
  } catch (error) {
    expect(error instanceof TemplateError || error instanceof TemplateNotFoundError).toBe(true)
    fastblocks = errorOutcome(error)
  }

  let stock: Outcome
  try {
    stock = { output: stockEnvironment(autoescape).render(name, context()) }
  } catch (error) {
    stock = errorOutcome(error)
  }
  return { fastblocks, stock }
}

const LOOP_VARIABLES =
  '[[ loop.index ]] [[ loop.index0 ]] [[ loop.revindex ]] [[ loop.revindex0 ]] ' +
  '[[ loop.first ]] [[ loop.last ]] [[ loop.length ]]'

function loopContext(): Record<string, unknown> {
  return {
    items: ['a', 'b', 'c'],
    one: ['only'],
    empty: [],
    nothing: null,
    object: { x: 1, y: 2, z: 3 },
    pairs: [
      ['a', 1],
      ['b', 2],
    ],
    rows: [
      [1, 2],
      [3, 4, 5],
    ],
    map: new Map([
      ['k1', 'v1'],
      ['k2', 'v2'],
    ]),
    set: new Set(['s1', 's2']),
    records: [{ name: 'r1' }, { name: 'r2' }],
  }
}

/** Templates with loops: a name and the source. Every case must render as in Nunjucks. */
const loopCases: [string, string][] = [
  ['array', `{% for x in items %}[[ x ]]: ${LOOP_VARIABLES};{% endfor %}`],
  ['one item', `{% for x in one %}${LOOP_VARIABLES}{% endfor %}`],
  ['literal array', `{% for x in [1, 2] %}${LOOP_VARIABLES};{% endfor %}`],
  ['range', `{% for n in range(4) %}[[ n ]]/${LOOP_VARIABLES};{% endfor %}`],
  ['string', `{% for c in "xyz" %}[[ c ]]/${LOOP_VARIABLES};{% endfor %}`],
  ['Set', `{% for s in set %}[[ s ]]/${LOOP_VARIABLES};{% endfor %}`],
  ['Map unpacked', `{% for k, v in map %}[[ k ]]=[[ v ]]/${LOOP_VARIABLES};{% endfor %}`],
  [
    'object keys and values',
    `{% for k, v in object %}[[ k ]]=[[ v ]]/${LOOP_VARIABLES};{% endfor %}`,
  ],
  ['pairs unpacked', `{% for a, b in pairs %}[[ a ]][[ b ]]/${LOOP_VARIABLES};{% endfor %}`],
  ['three names', `{% for a, b, c in rows %}[[ a ]][[ b ]][[ c ]];{% endfor %}`],
  ['empty with else', '{% for x in empty %}[[ x ]]{% else %}none [[ x ]]{% endfor %}'],
  ['null with else', '{% for x in nothing %}[[ x ]]{% else %}none{% endfor %}'],
  ['undefined with else', '{% for x in missing %}[[ x ]]{% else %}none{% endfor %}'],
  ['object with one name', '{% for x in object %}[[ x ]]{% else %}none{% endfor %}'],
  ['empty object unpacked', '{% for k, v in {} %}[[ k ]]{% else %}none{% endfor %}'],
  [
    'else sees the loop variable as unset',
    '{% set x = "outer" %}{% for x in empty %}{% else %}[[ x ]]{% endfor %}|[[ x ]]',
  ],
  ['else not taken', '{% for x in items %}[[ x ]]{% else %}none{% endfor %}'],
  [
    'nested loops',
    '{% for row in rows %}[{% for n in row %}[[ n ]]:[[ loop.index ]]/[[ loop.length ]]' +
      '[[ "," if not loop.last ]]{% endfor %}] outer [[ loop.index ]] [[ loop.last ]];{% endfor %}',
  ],
  [
    'outer loop after inner',
    '{% for row in rows %}{% for n in row %}{% endfor %}[[ loop.index ]][[ loop.first ]];{% endfor %}',
  ],
  ['loop after the loop', '{% for x in items %}{% endfor %}[[ loop ]]|[[ x ]]'],
  ['loop set to a falsy value', '{% for x in items %}{% set loop = 0 %}[[ loop ]];{% endfor %}'],
  [
    'loop object kept across iterations',
    '{% set kept = none %}{% for x in items %}{% if loop.first %}{% set kept = loop %}' +
      '{% endif %}{% endfor %}[[ kept.index ]] [[ kept.last ]]',
  ],
  [
    'loop variable named loop over objects',
    '{% for loop in records %}[[ loop.name ]][[ loop.index ]];{% endfor %}',
  ],
  ['loop variable named loop over strings', '{% for loop in items %}[[ loop ]]{% endfor %}'],
  ['loop set to a string', '{% for x in items %}{% set loop = "s" %}[[ loop ]];{% endfor %}'],
  [
    'loop variable shadows an outer name',
    '{% set x = "outer" %}{% for x in items %}[[ x ]]{% endfor %}[[ x ]]',
  ],
  ['set inside the loop', '{% for x in items %}{% set y = x + "!" %}[[ y ]]{% endfor %}[[ y ]]'],
  [
    'array grown inside the loop',
    '{% for x in items %}{% if loop.first %}[[ items.push("d") ]]{% endif %}[[ x ]]/[[ loop.length ]];{% endfor %}',
  ],
  ['include inside the loop', '{% for item in items %}{% include "row.html" %}{% endfor %}'],
  [
    'loop inside a macro',
    '{% macro list(xs) %}{% for x in xs %}[[ x ]][[ loop.index ]]{% endfor %}{% endmacro %}[[ list(items) ]]',
  ],
  [
    'loop inside a set block',
    '{% set joined %}{% for x in items %}[[ x ]][[ loop.revindex ]]{% endfor %}{% endset %}[[ joined ]]',
  ],
  [
    'loop in a call block',
    '{% macro wrap() %}<div>[[ caller() ]]</div>{% endmacro %}{% call wrap() %}{% for x in items %}[[ loop.index0 ]]{% endfor %}{% endcall %}',
  ],
  ['asyncEach', `{% asyncEach x in items %}[[ x ]]/${LOOP_VARIABLES};{% endeach %}`],
  ['asyncAll', `{% asyncAll x in items %}[[ x ]]/${LOOP_VARIABLES};{% endall %}`],
  ['loop variable named __proto__', '{% for __proto__ in items %}[[ __proto__ ]]{% endfor %}'],
]

describe('for loops match Nunjucks', () => {
  for (const [name, source] of loopCases) {
    test(name, async () => {
      const { fastblocks, stock } = await renderBoth(source, loopContext)
      expect(fastblocks).toEqual(stock)
    })
  }

  test('loop variables are the expected values', async () => {
    const { fastblocks } = await renderBoth(
      `{% for x in items %}${LOOP_VARIABLES};{% endfor %}`,
      loopContext,
    )
    expect(fastblocks).toEqual({
      output: '1 0 3 2 true false 3;2 1 2 1 false false 3;3 2 1 0 false true 3;',
    })
  })

  test('loop over strings named loop raises', async () => {
    const { fastblocks } = await renderBoth(
      '{% for loop in items %}[[ loop ]]{% endfor %}',
      loopContext,
    )
    expect(fastblocks).toHaveProperty('error')
    expect((fastblocks as { error: string }).error).toContain("Cannot create property 'index'")
  })
})

const text = 'Tom & "Jerry" <b>\'bold\'</b> C:\\path'

function escapeContext(): Record<string, unknown> {
  return {
    text,
    long: `${'plain words '.repeat(10)}${text}${' and more'.repeat(5)}`,
    longPlain: 'plain words '.repeat(20),
    edges: '<>',
    repeated: '&&&""\'\'<<>>\\\\',
    unicode: 'Grüße — “zitat” 😀 <tag>',
    empty: '',
    number: 42,
    float: -1.5,
    zero: 0,
    yes: true,
    no: false,
    nothing: null,
    array: ['<a>', 'b&c'],
    object: { toString: () => '<obj & "x">' },
    numberToString: { toString: () => 7 },
    safe: markSafe('<b>safe & sound</b>'),
    safeArray: [markSafe('<i>')],
    items: ['<1>', '"2"', '&3'],
  }
}

/** Output expressions: every case must render as in Nunjucks, with escaping on and off. */
const outputCases: [string, string][] = [
  ['all special characters', '[[ text ]]'],
  ['long text with special characters', '[[ long ]]'],
  ['long text without special characters', '[[ longPlain ]]'],
  ['special characters at both ends', '[[ edges ]]'],
  ['repeated special characters', '[[ repeated ]]'],
  ['non-ASCII text', '[[ unicode ]]'],
  ['empty string', '[[ empty ]]|'],
  ['numbers and booleans', '[[ number ]] [[ float ]] [[ zero ]] [[ yes ]] [[ no ]]'],
  ['null and undefined', '[[ nothing ]]|[[ missing ]]|[[ object.missing ]]'],
  ['array', '[[ array ]]'],
  ['object with toString', '[[ object ]]'],
  ['toString that returns a number', '[[ numberToString ]]'],
  ['SafeString', '[[ safe ]]'],
  ['array of SafeString', '[[ safeArray ]]'],
  ['safe filter', '[[ text | safe ]]'],
  ['escape filter', '[[ text | escape ]] [[ safe | e ]]'],
  ['concatenation', '[[ text ~ safe ]]'],
  ['string literal', '[[ "<lit & \'q\'>" ]]'],
  ['escaping in a loop', '{% for x in items %}<li>[[ x ]]</li>{% endfor %}'],
  ['macro output', '{% macro m(v) %}<p>[[ v ]]</p>{% endmacro %}[[ m(text) ]]'],
  ['template text is not escaped', '<p class="a">&amp; \'x\' \\</p>[[ edges ]]'],
]

describe('output matches Nunjucks', () => {
  for (const [name, source] of outputCases) {
    test(`${name} with autoescape`, async () => {
      const { fastblocks, stock } = await renderBoth(source, escapeContext)
      expect(fastblocks).toEqual(stock)
    })

    test(`${name} without autoescape`, async () => {
      const { fastblocks, stock } = await renderBoth(source, escapeContext, false)
      expect(fastblocks).toEqual(stock)
    })
  }

  test('escapes all special characters', async () => {
    const { fastblocks } = await renderBoth('[[ text ]]', escapeContext)
    expect(fastblocks).toEqual({
      output: 'Tom &amp; &quot;Jerry&quot; &lt;b&gt;&#39;bold&#39;&lt;/b&gt; C:&#92;path',
    })
  })
})

describe('includes match Nunjucks', () => {
  const cases: [string, string][] = [
    ['include', 'a{% include "row.html" %}b'],
    ['include with a variable name', '{% set name = "row.html" %}{% include name %}'],
    ['missing include ignored', 'a{% include "none.html" ignore missing %}b'],
    ['include twice', '{% include "row.html" %}{% include "row.html" %}'],
    ['include inside an if', '{% if item %}{% include "row.html" %}{% endif %}end'],
    ['error inside the included template', 'a{% include "broken.html" %}b'],
    ['error after the include', '{% include "row.html" %}\n[[ item() ]]'],
  ]
  for (const [name, source] of cases) {
    test(name, async () => {
      const { fastblocks, stock } = await renderBoth(source, () => ({ item: '<x>' }))
      expect(fastblocks).toEqual(stock)
    })
  }

  test('missing include raises in both', async () => {
    const { fastblocks, stock } = await renderBoth('a{% include "none.html" %}b', () => ({}))
    expect(fastblocks).toEqual({ error: 'Template not found: none.html' })
    expect(stock).toHaveProperty('error')
    expect((stock as { error: string }).error).toContain('template not found: none.html')
  })
})

describe('loops in blocks and strict mode', () => {
  test('block with a loop matches the whole page', async () => {
    const name = writeTemplate(
      '{% extends "layout.html" %}{% block list %}{% for item in items %}' +
        '{% include "row.html" %}{% endfor %}{% endblock %}',
    )
    const templates = createTemplates({ directory: folder })
    const context = { items: ['<a>', 'b'], title: 'T' }
    const page = await templates.render(name, context)
    const block = await templates.renderBlock(name, 'list', context)
    expect(page).toBe(stockEnvironment(true).render(name, context))
    expect(block).toBe('<li>&lt;a&gt; 1/2</li><li>b 2/2</li>')
    expect(page).toContain(`<main>${block}</main>`)
  })

  test('strict mode names an undefined attribute in a loop', async () => {
    const name = writeTemplate(
      '{% for item in items %}\n[[ loop.index ]][[ item.missing ]]{% endfor %}',
    )
    const templates = createTemplates({ directory: folder, securityLevel: 'STRICT' })
    const error = await templates.render(name, { items: [{}] }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(UndefinedVariableError)
    expect(error).toMatchObject({ template: name, line: 2, variable: 'item.missing' })
  })

  test('strict mode renders loop variables', async () => {
    const source = `{% for x in items %}[[ x ]]/${LOOP_VARIABLES};{% else %}none{% endfor %}`
    const name = writeTemplate(source)
    const templates = createTemplates({ directory: folder, securityLevel: 'STRICT' })
    const context = { items: ['<a>', 'b'] }
    expect(await templates.render(name, context)).toBe(stockEnvironment(true).render(name, context))
  })
})
