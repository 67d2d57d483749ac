import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { UndefinedVariableError } from '../errors/index.ts'
import { createTemplates, markSafe, type TemplateOptions } from './index.ts'

const fixtures = path.join(import.meta.dirname, 'fixtures')
const directory = path.join(fixtures, 'templates')

/** Returns the rejection of `promise`, failing the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Record<string, unknown>
  }
  throw new Error('expected the promise to reject')
}

/** Returns the error `create` throws, failing the test when it returns. */
function errorOf(create: () => unknown): Record<string, unknown> {
  try {
    create()
  } catch (error) {
    return error as Record<string, unknown>
  }
  throw new Error('expected the call to throw')
}

/** Renderer of a fresh temporary folder, for templates written by the test itself. */
class ScratchFolder {
  readonly root = mkdtempSync(path.join(tmpdir(), 'fastblocks-templates-'))
  readonly directory = path.join(this.root, 'templates')
  #count = 0

  constructor() {
    cpSync(path.join(fixtures, 'templates'), this.directory, { recursive: true })
    cpSync(path.join(fixtures, 'templates-evil'), path.join(this.root, 'templates-evil'), {
      recursive: true,
    })
  }

  write(name: string, source: string): void {
    const file = path.join(this.directory, name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, source)
  }

  /** Renders `source` as a new template. */
  async render(
    source: string,
    context: Record<string, unknown> = {},
    options: Partial<TemplateOptions> = {},
  ): Promise<string> {
    this.#count += 1
    const name = `inline-${this.#count}.html`
    this.write(name, source)
    return createTemplates({ directory: this.directory, ...options }).render(name, context)
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true })
  }
}

let scratch: ScratchFolder
beforeAll(() => {
  scratch = new ScratchFolder()
})
afterAll(() => {
  scratch.remove()
})

const pageContext = () => ({
  name: '<b>Ann</b>',
  query: 'say "hi"',
  items: [{ title: 'One' }, { title: '<i>Two</i>' }],
  csrf_token: markSafe('<input type="hidden" name="csrf_token" value="token-1">'),
})

describe('createTemplates settings', () => {
  test('rejects a relative directory', () => {
    const error = errorOf(() => createTemplates({ directory: 'templates' }))
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('rejects a missing directory', () => {
    const error = errorOf(() => createTemplates({ directory: path.join(fixtures, 'absent') }))
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('rejects a file as directory', () => {
    const error = errorOf(() => createTemplates({ directory: path.join(directory, 'hello.html') }))
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('rejects autoescape false under STRICT', () => {
    const error = errorOf(() =>
      createTemplates({ directory, securityLevel: 'STRICT', autoescape: false }),
    )
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('rejects an unknown security level', () => {
    const securityLevel = 'SANDBOXED' as TemplateOptions['securityLevel']
    const error = errorOf(() => createTemplates({ directory, securityLevel }))
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('allows autoescape false under STANDARD', async () => {
    const templates = createTemplates({ directory, autoescape: false })
    const html = await templates.render('hello.html', { name: '<b>Ann</b>' })
    expect(html).toContain('<p>Hello <b>Ann</b></p>')
  })

  test('rejects replacing an escaping filter', () => {
    for (const name of ['safe', 'escape', 'e', 'tojson', 'urlize', 'replace', 'dump']) {
      const error = errorOf(() => createTemplates({ directory, filters: { [name]: () => '' } }))
      expect(error.code, name).toBe('E_INVALID_SETTINGS')
    }
  })

  test('adds filters and globals', async () => {
    const html = await scratch.render(
      '[[ app_name | shout ]]',
      {},
      { globals: { app_name: 'notes' }, filters: { shout: (text: string) => `${text}!` } },
    )
    expect(html).toBe('notes!')
  })
})

describe('render', () => {
  test('renders inheritance, super, macros and includes', async () => {
    const html = await createTemplates({ directory }).render('page.html', pageContext())
    expect(html).toContain('<title>Page | Notes</title>')
    expect(html).toContain('<nav><a href="/">Home</a></nav>')
    expect(html).toContain('<h1>Hello, &lt;b&gt;Ann&lt;/b&gt;</h1>')
    expect(html).toContain('<input name="q" value="say &quot;hi&quot;">')
    expect(html).toContain('<li>One</li>')
    expect(html).toContain('<li>&lt;i&gt;Two&lt;/i&gt;</li>')
    expect(html).toContain('<span class="badge">2</span>')
    expect(html).toContain('<footer>Footer of Notes</footer>')
  })

  test('prints a SafeString without escaping', async () => {
    const html = await createTemplates({ directory }).render('page.html', pageContext())
    expect(html).toContain('<input type="hidden" name="csrf_token" value="token-1">')
    expect(html).not.toContain('&lt;input type=&quot;hidden&quot;')
  })

  test('escapes strings by default', async () => {
    const html = await createTemplates({ directory }).render('hello.html', { name: `<a href='x'>` })
    expect(html).toContain('<p>Hello &lt;a href=&#39;x&#39;&gt;</p>')
  })

  test('leaves double braces and drops comments', async () => {
    const html = await createTemplates({ directory }).render('client-syntax.html', { count: 3 })
    expect(html).toContain('<div x-text="{{ count }}">3</div>')
    expect(html).not.toContain('comment')
  })

  test('prints undefined as empty outside strict mode', async () => {
    const html = await createTemplates({ directory }).render('hello.html')
    expect(html).toContain('<p>Hello </p>')
  })

  test('raises TemplateNotFoundError for a missing template', async () => {
    const error = await rejectionOf(createTemplates({ directory }).render('missing.html'))
    expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
  })

  test('raises TemplateNotFoundError for a missing include', async () => {
    const error = await rejectionOf(scratch.render('{% include "nowhere.html" %}'))
    expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
  })

  test('skips a missing include with ignore missing', async () => {
    const html = await scratch.render('a{% include "nowhere.html" ignore missing %}b')
    expect(html).toBe('ab')
  })

  test('raises TemplateError for invalid syntax', async () => {
    const error = await rejectionOf(scratch.render('<p>\n{% if x %}never closed'))
    expect(error.code).toBe('E_TEMPLATE')
  })

  test('raises TemplateError for a failing filter', async () => {
    const error = await rejectionOf(scratch.render('[[ 1 | nonexistent ]]'))
    expect(error.code).toBe('E_TEMPLATE')
  })

  test('reports whether a template exists', async () => {
    const templates = createTemplates({ directory })
    expect(await templates.exists('hello.html')).toBe(true)
    expect(await templates.exists('partials/item.html')).toBe(true)
    expect(await templates.exists('missing.html')).toBe(false)
    expect(await templates.exists('partials')).toBe(false)
    expect(await templates.exists('../templates-evil/secret.html')).toBe(false)
  })
})

describe('renderBlock', () => {
  const templates = createTemplates({ directory })

  test('renders a block that calls super', async () => {
    expect(await templates.renderBlock('page.html', 'title', pageContext())).toBe('Page | Notes')
  })

  test('renders a block defined only in the layout', async () => {
    const html = await templates.renderBlock('page.html', 'footer', pageContext())
    expect(html).toBe('Footer of Notes')
  })

  test('sees top-level sets and imported macros', async () => {
    const html = await templates.renderBlock('page.html', 'content', pageContext())
    expect(html).toContain('<h1>Hello, &lt;b&gt;Ann&lt;/b&gt;</h1>')
    expect(html).toContain('<input name="q" value="say &quot;hi&quot;">')
    expect(html).toContain('<span class="badge">2</span>')
    expect(html).not.toContain('<footer>')
    expect(html).not.toContain('<title>')
  })

  test('renders a block nested in another block', async () => {
    const html = await templates.renderBlock('page.html', 'list', pageContext())
    expect(html).toBe(
      '<ul><li>One</li>\n<li>&lt;i&gt;Two&lt;/i&gt;</li>\n</ul><span class="badge">2</span>',
    )
  })

  test('matches the block inside the whole page', async () => {
    const page = await templates.render('page.html', pageContext())
    for (const block of ['title', 'nav', 'content', 'list', 'footer']) {
      const html = await templates.renderBlock('page.html', block, pageContext())
      expect(page, block).toContain(html)
    }
  })

  test('renders a block of a template without layout', async () => {
    const html = await templates.renderBlock('standalone.html', 'body', { message: '<hi>' })
    expect(html).toBe('<p>Standalone: &lt;hi&gt;</p>')
  })

  test('renders only the block, not the layout around it', async () => {
    // Under strict undefined, evaluating the page around the block would raise for `name`.
    const strict = createTemplates({ directory, securityLevel: 'STRICT' })
    const html = await strict.renderBlock('page.html', 'list', { items: [] })
    expect(html).toBe('<ul></ul><span class="badge">0</span>')
  })

  test('raises TemplateError for a missing block', async () => {
    const error = await rejectionOf(templates.renderBlock('page.html', 'sidebar', pageContext()))
    expect(error.code).toBe('E_TEMPLATE')
    expect(error.message).toContain('"sidebar"')
    expect(error.message).toContain('page.html')
  })

  test('raises TemplateNotFoundError for a missing template', async () => {
    const error = await rejectionOf(templates.renderBlock('missing.html', 'content'))
    expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
  })

  test('survives many unknown block names', async () => {
    for (let index = 0; index < 80; index += 1) {
      const error = await rejectionOf(templates.renderBlock('page.html', `block-${index}`))
      expect(error.code).toBe('E_TEMPLATE')
    }
    expect(await templates.renderBlock('page.html', 'title', pageContext())).toBe('Page | Notes')
  })
})

describe('strict undefined', () => {
  const strict = createTemplates({ directory, securityLevel: 'STRICT' })
  const context = { name: 'Ann', user: { name: 'Ann' } }

  const cases: [template: string, line: number, variable: string][] = [
    ['strict/variable.html', 3, 'usr'],
    ['strict/attribute.html', 3, 'user.email'],
    ['strict/chain.html', 3, 'account'],
    ['strict/filter.html', 3, 'missing'],
    ['strict/loop.html', 3, 'rowz'],
    ['strict/partial.html', 2, 'missing_in_partial'],
    ['strict/macro.html', 2, 'query'],
  ]

  for (const [template, line, variable] of cases) {
    test(`raises for ${variable} in ${template}`, async () => {
      const rendered = template === 'strict/partial.html' ? 'strict/include.html' : template
      const error = await rejectionOf(strict.render(rendered, context))
      expect(error).toBeInstanceOf(UndefinedVariableError)
      expect(error.code).toBe('E_UNDEFINED_VARIABLE')
      expect(error.template).toBe(template)
      expect(error.line).toBe(line)
      expect(error.variable).toBe(variable)
    })
  }

  test('names the variable in the message', async () => {
    const error = await rejectionOf(strict.render('strict/variable.html', context))
    expect(error.message).toBe(
      'Undefined variable "usr" in template strict/variable.html at line 3',
    )
  })

  test('raises for an attribute of null', async () => {
    const error = await rejectionOf(strict.render('strict/attribute.html', { user: null }))
    expect(error.code).toBe('E_UNDEFINED_VARIABLE')
    expect(error.variable).toBe('user.name')
  })

  test('raises inside a rendered block', async () => {
    const error = await rejectionOf(strict.renderBlock('strict/block.html', 'content', {}))
    expect(error.code).toBe('E_UNDEFINED_VARIABLE')
    expect(error.variable).toBe('title')
    expect(error.line).toBe(3)
  })

  test('keeps is defined and default working', async () => {
    const html = await strict.render('strict/guards.html', { user: {}, nothing: null })
    expect(html).toContain('<p>no x</p>')
    expect(html).toContain('<p>fallback</p>')
    expect(html).toContain('<p>short</p>')
    expect(html).toContain('<p>no email</p>')
    expect(html).toContain('<p>email undefined</p>')
    expect(html).toContain('<p>no owner</p>')
    expect(html).toContain('<p>|</p>')
  })

  test('prints defined values under guards', async () => {
    const html = await strict.render('strict/guards.html', {
      x: 'X',
      user: { email: 'a@example.com' },
      account: { owner: 'o' },
      nothing: null,
    })
    expect(html).toContain('<p>X</p>')
    expect(html).toContain('<p>a@example.com</p>')
    expect(html).toContain('<p>owner</p>')
  })

  test('supports loop, range, caller and imports', async () => {
    const source = [
      '{% import "macros.html" as forms %}',
      '{% macro card(title) %}<div>[[ title ]]: [[ caller() ]]</div>{% endmacro %}',
      '{% for n in range(2) %}[[ loop.index ]]{% if not loop.last %},{% endif %}{% endfor %}',
      '{% call card("T") %}body [[ forms.badge(1) ]]{% endcall %}',
      '{% set total = items | length %}[[ total ]]',
    ].join('\n')
    const html = await scratch.render(source, { items: [1, 2] }, { securityLevel: 'STRICT' })
    expect(html).toBe('\n\n1,2\n<div>T: body <span class="badge">1</span></div>\n2')
  })

  test('applies with strictUndefined under STANDARD', async () => {
    const templates = createTemplates({ directory, strictUndefined: true })
    const error = await rejectionOf(templates.render('strict/variable.html', context))
    expect(error.code).toBe('E_UNDEFINED_VARIABLE')
  })

  test('renders the whole page when all variables exist', async () => {
    const html = await strict.render('page.html', pageContext())
    expect(html).toContain('<title>Page | Notes</title>')
  })
})

describe('loader confinement', () => {
  const templates = createTemplates({ directory })
  const rejectedNames = [
    '../templates-evil/secret.html',
    'partials/../../templates-evil/secret.html',
    'partials/../hello.html',
    './hello.html',
    '/etc/passwd',
    path.join(fixtures, 'templates-evil', 'secret.html'),
    path.join(directory, 'hello.html'),
    'C:/Windows/win.ini',
    '..\\templates-evil\\secret.html',
    'partials\\item.html',
    'hello.html\0.txt',
    '%2e%2e/templates-evil/secret.html',
    '..%2ftemplates-evil%2fsecret.html',
    '%252e%252e/templates-evil/secret.html',
    'partials//item.html',
    'partials/',
    '',
    'a'.repeat(2000),
  ]

  for (const name of rejectedNames) {
    test(`rejects ${JSON.stringify(name.slice(0, 60))}`, async () => {
      const error = await rejectionOf(templates.render(name))
      expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
    })
  }

  test('rejects names of existing files with unsafe characters', async () => {
    // Files with these names exist, so only the name check can reject them.
    const names = ['percent%2e.html', 'back\\slash.html', 'partials/../hello.html']
    scratch.write('percent%2e.html', 'percent')
    scratch.write('back\\slash.html', 'backslash')
    const templates = createTemplates({ directory: scratch.directory })
    for (const name of names) {
      const error = await rejectionOf(templates.render(name))
      expect(error.code, name).toBe('E_TEMPLATE_NOT_FOUND')
    }
  })

  test('rejects a name that is not a string', async () => {
    const error = await rejectionOf(templates.render(42 as unknown as string))
    expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
  })

  test('rejects an include from the sibling folder', async () => {
    const error = await rejectionOf(templates.render('secret-neighbour.html'))
    expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
  })

  test('rejects object member names', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const error = await rejectionOf(templates.render(name))
      expect(error.code, name).toBe('E_TEMPLATE_NOT_FOUND')
    }
  })

  describe('symbolic links', () => {
    let links: ScratchFolder
    beforeAll(() => {
      links = new ScratchFolder()
      symlinkSync(
        path.join(links.root, 'templates-evil', 'secret.html'),
        path.join(links.directory, 'linked-secret.html'),
      )
      symlinkSync(path.join(links.root, 'templates-evil'), path.join(links.directory, 'evil'))
      symlinkSync('/etc/hostname', path.join(links.directory, 'hostname.html'))
      symlinkSync(
        path.join(links.directory, 'hello.html'),
        path.join(links.directory, 'alias.html'),
      )
      links.write('includes-link.html', '{% include "evil/secret.html" %}')
    })
    afterAll(() => {
      links.remove()
    })

    test('rejects a link to a file outside', async () => {
      const templates = createTemplates({ directory: links.directory })
      for (const name of ['linked-secret.html', 'evil/secret.html', 'hostname.html']) {
        const error = await rejectionOf(templates.render(name))
        expect(error.code, name).toBe('E_TEMPLATE_NOT_FOUND')
      }
    })

    test('rejects an include through a link', async () => {
      const templates = createTemplates({ directory: links.directory })
      const error = await rejectionOf(templates.render('includes-link.html'))
      expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
    })

    test('follows a link that stays inside', async () => {
      const templates = createTemplates({ directory: links.directory })
      expect(await templates.render('alias.html', { name: 'Ann' })).toContain('Hello Ann')
    })

    test('exists is false for a link outside', async () => {
      const templates = createTemplates({ directory: links.directory })
      expect(await templates.exists('linked-secret.html')).toBe(false)
    })
  })
})

describe('caching and reload', () => {
  /** Rewrites a template with new content and a new modification time. */
  function rewrite(folder: ScratchFolder, name: string, source: string, seconds: number): void {
    folder.write(name, source)
    const time = new Date(Date.now() + seconds * 1000)
    utimesSync(path.join(folder.directory, name), time, time)
  }

  test('keeps the compiled template without reload', async () => {
    const folder = new ScratchFolder()
    try {
      const templates = createTemplates({ directory: folder.directory })
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Hello Ann')
      rewrite(folder, 'hello.html', '<p>Changed [[ name ]]</p>', 5)
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Hello Ann')
    } finally {
      folder.remove()
    }
  })

  test('recompiles a changed file with reload', async () => {
    const folder = new ScratchFolder()
    try {
      const templates = createTemplates({ directory: folder.directory, reload: true })
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Hello Ann')
      rewrite(folder, 'hello.html', '<p>Changed [[ name ]]</p>', 5)
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Changed Ann')
      rewrite(folder, 'hello.html', '<p>Again [[ name ]]</p>', 10)
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Again Ann')
    } finally {
      folder.remove()
    }
  })

  test('recompiles a changed layout with reload', async () => {
    const folder = new ScratchFolder()
    try {
      const templates = createTemplates({ directory: folder.directory, reload: true })
      expect(await templates.render('page.html', pageContext())).toContain('Footer of Notes')
      rewrite(folder, 'layout.html', '{% block footer %}New footer{% endblock %}', 5)
      expect(await templates.render('page.html', pageContext())).toBe('New footer')
      expect(await templates.renderBlock('page.html', 'footer', pageContext())).toBe('New footer')
    } finally {
      folder.remove()
    }
  })

  test('drops a removed file with reload', async () => {
    const folder = new ScratchFolder()
    try {
      const templates = createTemplates({ directory: folder.directory, reload: true })
      expect(await templates.render('hello.html', { name: 'Ann' })).toContain('Hello Ann')
      rmSync(path.join(folder.directory, 'hello.html'))
      const error = await rejectionOf(templates.render('hello.html'))
      expect(error.code).toBe('E_TEMPLATE_NOT_FOUND')
    } finally {
      folder.remove()
    }
  })
})

describe('escaping of non-string values', () => {
  const templates = createTemplates({ directory })

  test('escapes an array', async () => {
    const html = await templates.render('hello.html', { name: ['<script>alert(1)</script>'] })
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).not.toContain('<script')
  })

  test('escapes an object with HTML from toString', async () => {
    const name = { toString: () => '<img src=x onerror=alert(1)>' }
    const html = await templates.render('hello.html', { name })
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(html).not.toContain('<img')
  })

  test('escapes nested arrays', async () => {
    const html = await templates.render('hello.html', { name: [['<script>'], ['<b>']] })
    expect(html).toContain('&lt;script&gt;,&lt;b&gt;')
    expect(html).not.toContain('<script')
    expect(html).not.toContain('<b>')
  })

  test('escapes an object parsed from name[x]', async () => {
    const html = await templates.render('hello.html', { name: { x: '<script>' } })
    expect(html).not.toContain('<script')
  })

  test('escapes an array that contains a SafeString', async () => {
    const html = await templates.render('hello.html', { name: [markSafe('<b>bold</b>')] })
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;')
  })

  test('escapes array items printed in a loop', async () => {
    const html = await scratch.render('{% for part in parts %}[[ part ]]{% endfor %}', {
      parts: ['<script>', { toString: () => '<img>' }],
    })
    expect(html).toBe('&lt;script&gt;&lt;img&gt;')
  })
})

describe('tojson', () => {
  const templates = createTemplates({ directory })

  /** Returns the text between `const data = ` and `;</script>`. */
  function embeddedJson(html: string): string {
    const match = /const data = (.*);<\/script>/s.exec(html)
    if (match?.[1] === undefined) throw new Error(`no script data in ${html}`)
    return match[1]
  }

  const payloads: [label: string, value: unknown][] = [
    ['closing script tag', '</script><script>alert(1)//'],
    ['HTML comment opener', { a: '<!--<script>' }],
    ['line separators', 'one\u2028two\u2029three'],
    ['ampersand and quote', 'Tom & \'Jerry\' > "Spike"'],
    ['nested values', { list: [1, '</SCRIPT>', null, { deep: '<!-- -->' }], flag: true }],
  ]

  for (const [label, payload] of payloads) {
    test(`keeps the script closed for ${label}`, async () => {
      const html = await templates.render('script.html', { payload, csp_nonce: 'n0nce' })
      const body = embeddedJson(html)
      expect(body.toLowerCase()).not.toContain('</script')
      expect(body).not.toContain('<!--')
      expect(body).not.toContain('\u2028')
      expect(body).not.toContain('\u2029')
      expect(body).not.toMatch(/[<>&']/)
      expect(JSON.parse(body)).toEqual(payload)
    })
  }

  test('escapes <, >, & and line separators as \\u escapes', async () => {
    const html = await templates.render('script.html', { payload: '<>&\u2028\u2029' })
    expect(embeddedJson(html)).toBe('"\\u003c\\u003e\\u0026\\u2028\\u2029"')
  })

  test('is marked safe', async () => {
    const html = await templates.render('script.html', { payload: { a: 'b' } })
    expect(embeddedJson(html)).toBe('{"a":"b"}')
  })

  test('renders undefined as null', async () => {
    const html = await templates.render('script.html', {})
    expect(embeddedJson(html)).toBe('null')
  })

  test('serializes a SafeString as its text', async () => {
    const html = await templates.render('script.html', { payload: markSafe('<b>') })
    expect(JSON.parse(embeddedJson(html))).toBe('<b>')
  })

  test('indents with a number of spaces', async () => {
    const positional = await scratch.render('[[ value | tojson(2) ]]', { value: { a: [1] } })
    expect(positional).toBe('{\n  "a": [\n    1\n  ]\n}')
    const keyword = await scratch.render('[[ value | tojson(indent=2) ]]', { value: { a: 1 } })
    expect(keyword).toBe('{\n  "a": 1\n}')
  })

  test('rejects an invalid indent', async () => {
    const error = await rejectionOf(scratch.render('[[ 1 | tojson("x") ]]'))
    expect(error.code).toBe('E_TEMPLATE')
  })
})

describe('built-in filters', () => {
  test('dump output is escaped without safe', async () => {
    const html = await scratch.render('<script>const d = [[ data | dump ]]</script>', {
      data: { a: '</script><script>alert(1)</script>' },
    })
    expect(html).toBe(
      '<script>const d = {&quot;a&quot;:&quot;&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;}</script>',
    )
  })

  test('safe prints markup as it is', async () => {
    const html = await scratch.render('[[ html | safe ]]', { html: '<em>trusted</em>' })
    expect(html).toBe('<em>trusted</em>')
  })

  test('escape does not escape twice', async () => {
    const html = await scratch.render('[[ text | escape ]]', { text: '<b>' })
    expect(html).toBe('&lt;b&gt;')
  })

  test('urlize links URLs and escapes text', async () => {
    const html = await scratch.render('[[ text | urlize ]]', {
      text: 'Read (https://example.com/a?b=1&c=2). <script>alert(1)</script> or mail a@example.com',
    })
    expect(html).toBe(
      'Read (<a href="https://example.com/a?b=1&amp;c=2">https://example.com/a?b=1&amp;c=2</a>). ' +
        '&lt;script&gt;alert(1)&lt;/script&gt; or mail <a href="mailto:a@example.com">a@example.com</a>',
    )
  })

  test('urlize keeps quotes inside the href', async () => {
    const html = await scratch.render('[[ text | urlize ]]', {
      text: 'http://x.example/"onmouseover="alert(1)',
    })
    expect(html).toBe(
      '<a href="http://x.example/&quot;onmouseover=&quot;alert(1">' +
        'http://x.example/&quot;onmouseover=&quot;alert(1</a>)',
    )
  })

  test('urlize does not link javascript URLs', async () => {
    const html = await scratch.render('[[ text | urlize ]]', { text: 'javascript:alert(1)' })
    expect(html).toBe('javascript:alert(1)')
  })

  test('urlize adds rel nofollow and shortens text', async () => {
    const html = await scratch.render('[[ text | urlize(10, true) ]]', {
      text: 'www.example.com/long/path',
    })
    expect(html).toBe('<a href="http://www.example.com/long/path" rel="nofollow">www.exampl</a>')
  })

  test('replace escapes the replacement in safe input', async () => {
    const html = await scratch.render(
      '{% from "macros.html" import badge %}[[ badge("NAME") | replace("NAME", who) ]]',
      { who: '<script>alert(1)</script>' },
    )
    expect(html).toBe('<span class="badge">&lt;script&gt;alert(1)&lt;/script&gt;</span>')
  })

  test('replace escapes the result of plain input', async () => {
    const html = await scratch.render('[[ text | replace("x", "<b>") ]]', { text: 'axb' })
    expect(html).toBe('a&lt;b&gt;b')
  })

  test('truncate escapes the end text of safe input', async () => {
    const html = await scratch.render('[[ html | truncate(3, true, end) ]]', {
      html: markSafe('abcdef'),
      end: '<img src=x onerror=alert(1)>',
    })
    expect(html).toBe('abc&lt;img src=x onerror=alert(1)&gt;')
  })

  test('join escapes markup', async () => {
    const html = await scratch.render('[[ items | join(", ") ]]', { items: ['<a>', '<b>'] })
    expect(html).toBe('&lt;a&gt;, &lt;b&gt;')
  })
})
