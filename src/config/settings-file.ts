import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isAlias, isCollection, isMap, LineCounter, parseDocument, visit } from 'yaml'
import { interpolate } from './interpolate.ts'
import { closest, type SettingsProblem } from './problems.ts'

/** The settings files, in the order they are read. */
export const SETTINGS_FILES = ['app.yml', 'middleware.yml', 'templates.yml'] as const
export type SettingsFileName = (typeof SETTINGS_FILES)[number]

/** A settings tree after parsing: mappings, lists, strings, numbers and booleans. */
export type SettingsTree = { [key: string]: SettingsValue }
export type SettingsValue = string | number | boolean | null | SettingsValue[] | SettingsTree

/** Largest settings file read. Settings files are a few KiB, so more is a wrong file. */
const MAX_FILE_BYTES = 256 * 1024

/**
 * Maximum alias expansions per file. Settings rarely need anchors at all, and the bound
 * stops a "billion laughs" file of nested aliases from expanding into gigabytes.
 */
const MAX_ALIAS_COUNT = 50

/** Keys that would reach `Object.prototype` in code that copies settings naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** Explicit tags allowed: the YAML 1.2 core schema. Others (`!!binary`, `!!set`, `!foo`) are not. */
const ALLOWED_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`),
)

/**
 * Lists the `.yml` and `.yaml` files in `settings/` that FastBlocks does not read, so a
 * misnamed file is an error instead of being silently ignored. Files with other extensions
 * (a README, say) are left alone.
 */
export async function findUnknownFiles(settingsFolder: string): Promise<SettingsProblem[]> {
  let names: string[]
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- the settings/ folder of the root
    names = await readdir(settingsFolder)
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return []
    throw error
  }

  const problems: SettingsProblem[] = []
  for (const name of names.sort()) {
    if (!/\.ya?ml$/i.test(name) || (SETTINGS_FILES as readonly string[]).includes(name)) continue
    const known = SETTINGS_FILES.join(', ')
    const renamed = name.replace(/\.yaml$/i, '.yml').toLowerCase()
    const fix = (SETTINGS_FILES as readonly string[]).includes(renamed)
      ? `rename it to ${renamed}`
      : `rename it${suggestion(name)} or move it out of settings/; the files read are ${known}`
    problems.push({
      file: `settings/${name}`,
      message: `is not a settings file FastBlocks reads; ${fix}`,
    })
  }
  return problems
}

function suggestion(name: string): string {
  const nearest = closest(name, SETTINGS_FILES)
  return nearest === undefined ? '' : ` (to ${nearest}?)`
}

/**
 * Reads and parses one settings file, then replaces `${ENV_VAR}` placeholders in its
 * string values. A missing file gives an empty tree. Problems are appended to `problems`,
 * and the returned tree contains what could be read despite them.
 */
export async function readSettingsFile(
  root: string,
  name: SettingsFileName,
  environ: Record<string, string | undefined>,
  problems: SettingsProblem[],
): Promise<SettingsTree> {
  const file = `settings/${name}`
  let text: string
  try {
    // The path is one of the fixed SETTINGS_FILES names under the application root.
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    const buffer = await readFile(join(root, 'settings', name))
    if (buffer.byteLength > MAX_FILE_BYTES) {
      problems.push({
        file,
        message: `is larger than ${MAX_FILE_BYTES / 1024} KiB; check the file`,
      })
      return {}
    }
    text = buffer.toString('utf8')
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return {}
    if (isErrorCode(error, 'EISDIR')) {
      problems.push({ file, message: 'is a folder; it must be a YAML file' })
      return {}
    }
    throw error
  }

  const parsed = parseYaml(text, file, problems)
  return walk(parsed, file, [], problems, environ) as SettingsTree
}

/**
 * Parses YAML with the core schema, no merge keys, unique keys, no custom or exotic tags
 * and a bounded alias count, and checks that the document is a mapping.
 */
function parseYaml(text: string, file: string, problems: SettingsProblem[]): unknown {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    uniqueKeys: true,
    prettyErrors: true,
    lineCounter,
  })

  const syntaxProblems = [...document.errors, ...document.warnings]
  for (const error of syntaxProblems) {
    const position = error.linePos?.[0]
    const where = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`
    // With prettyErrors, the first line of the message ends with the position, then a code frame.
    const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
    problems.push({ file, message: `is not valid YAML${where}: ${reason}` })
  }
  if (syntaxProblems.length > 0) return {}

  let unsafe = false
  const lineOf = (offset: number | undefined) => lineCounter.linePos(offset ?? 0).line
  visit(document, {
    Node(_key, node) {
      if (node.tag !== undefined && !ALLOWED_TAGS.has(node.tag)) {
        unsafe = true
        problems.push({
          file,
          message:
            `uses the tag ${node.tag} at line ${lineOf(node.range?.[0])}; settings take ` +
            'strings, numbers, booleans, lists and mappings only',
        })
      }
    },
    Pair(_key, pair) {
      if (isCollection(pair.key) || isAlias(pair.key)) {
        unsafe = true
        problems.push({
          file,
          message: `has a key that is not a plain string at line ${lineOf(pair.key.range?.[0])}`,
        })
      }
    },
  })
  if (unsafe) return {}
  if (document.contents !== null && !isMap(document.contents)) {
    problems.push({ file, message: 'must be a mapping of keys to values, such as "name: My app"' })
    return {}
  }

  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {}
  } catch (error) {
    // yaml raises a ReferenceError when aliases expand past maxAliasCount.
    const reason = error instanceof Error ? error.message : String(error)
    problems.push({
      file,
      message: `could not be read: ${reason}; use fewer anchors and aliases (at most ${MAX_ALIAS_COUNT} expansions)`,
    })
    return {}
  }
}

/**
 * Copies a parsed value into plain objects and arrays, reporting prototype-polluting keys,
 * dropping null values (a key with no value means "not set") and, when `environ` is given,
 * interpolating strings.
 */
export function walk(
  value: unknown,
  file: string,
  path: (string | number)[],
  problems: SettingsProblem[],
  environ?: Record<string, string | undefined>,
): SettingsValue | undefined {
  if (value === null || value === undefined) return undefined

  if (typeof value === 'string') {
    if (environ === undefined) return value
    const result = interpolate(value, environ)
    if ('value' in result) return result.value
    problems.push({ file, path, message: result.problem })
    return undefined
  }
  if (typeof value === 'number' || typeof value === 'boolean') return value

  if (Array.isArray(value)) {
    return value.map((item, index) => {
      const copied = walk(item, file, [...path, index], problems, environ)
      return copied === undefined ? null : copied
    })
  }

  if (typeof value === 'object' && isPlainObject(value)) {
    const copy: SettingsTree = {}
    for (const key of Object.keys(value)) {
      // Prototype keys: reject instead of copying, whatever the value.
      if (FORBIDDEN_KEYS.has(key)) {
        problems.push({
          file,
          path: [...path, key],
          message: 'is not allowed, because it could change the prototype of every object',
        })
        continue
      }
      const copied = walk(Reflect.get(value, key), file, [...path, key], problems, environ)
      if (copied !== undefined) Reflect.set(copy, key, copied)
    }
    return copy
  }

  problems.push({ file, path, message: `has an unsupported value of type ${typeof value}` })
  return undefined
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code
}
