/**
 * The workload that every stack serves, and the helpers the stack files share so that no stack
 * renders different data, uses different template settings or reads secrets differently.
 */
import { fileURLToPath } from 'node:url'
import nunjucks from 'nunjucks'

// These URLs are relative to this file. The stacks run its compiled copy in bench/.build/,
// which sits at the same depth as bench/stacks/, so both resolve to the same folders.

/** Folder of the templates shared by all stacks: `layout.html`, `page.html`, `list.html`. */
export const templatesDir = fileURLToPath(new URL('../templates/', import.meta.url))

/** Folder given to FastBlocks as its application root (it holds `settings/` and `templates/`). */
export const benchRoot = fileURLToPath(new URL('../', import.meta.url))

/** Template tags of FastBlocks, set on every stack so that all of them read the same files. */
export const templateTags = { variableStart: '[[', variableEnd: ']]' }

/** Nunjucks options for the peers: escaping on, compiled templates cached, no file watching. */
export const nunjucksOptions: nunjucks.ConfigureOptions = {
  autoescape: true,
  noCache: false,
  watch: false,
  tags: templateTags,
}

/** Title of the page, the same on every stack. */
export const pageTitle = 'Benchmark page'

/** Session key of the visit counter, incremented on every `GET /page`. */
export const visitsKey = 'visits'

/** Session key that `POST /submit` writes the submitted note to. */
export const noteKey = 'note'

export interface Item {
  id: number
  text: string
}

/** Twenty items whose text needs HTML escaping (`<`, `>`, `&` and `"`). */
export const items: readonly Item[] = Array.from({ length: 20 }, (_, index) => ({
  id: index + 1,
  text: `Item <3> & "quoted" number ${index + 1}`,
}))

/**
 * Reads a secret that the benchmark runner generated and passed in the environment.
 *
 * @throws Error when the variable is missing or shorter than 64 hex characters (32 bytes).
 */
export function readSecret(name: 'BENCH_SESSION_SECRET' | 'BENCH_CSRF_SECRET'): string {
  const value = process.env[name]
  if (value === undefined || !/^[0-9a-f]{64,}$/.test(value)) {
    throw new Error(
      `${name} is missing or not at least 64 hex characters; start the stack through bench/run.ts, ` +
        `or set it to the output of: node -e "console.log(crypto.randomBytes(32).toString('hex'))"`,
    )
  }
  return value
}

/**
 * Prints the line the benchmark runner waits for, on stdout, once the server listens.
 * The runner ignores every other line, so a stack may log to stdout too.
 */
export function announcePort(port: number): void {
  process.stdout.write(`BENCH_LISTENING port=${port}\n`)
}

/** Returns the counter after adding one visit, from the previous session value. */
export function nextVisitCount(previous: unknown): number {
  return typeof previous === 'number' ? previous + 1 : 1
}

/** Returns the submitted note cut to 200 characters, or an empty string when it is missing. */
export function readNote(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 200) : ''
}

const htmlEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * Builds the hidden CSRF input that peers pass as `csrf_token`, marked safe so that the
 * template prints it as HTML; the token itself is escaped here.
 */
export function csrfHiddenInput(fieldName: string, token: string): nunjucks.runtime.SafeString {
  const value = token.replace(/[&<>"']/g, (character) => htmlEscapes[character] ?? character)
  return new nunjucks.runtime.SafeString(
    `<input type="hidden" name="${fieldName}" value="${value}">`,
  )
}
