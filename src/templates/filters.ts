import nunjucks from 'nunjucks'
import { TemplateError } from '../errors/index.ts'

const { SafeString } = nunjucks.runtime

/**
 * Replacements that make JSON safe inside `<script>` and inside single-quoted HTML
 * attributes: no `</script`, no `<!--`, no `&` entity, no quote that ends the attribute, and
 * no U+2028/U+2029 line terminators. Each appears in JSON only inside a string, where the
 * `\uXXXX` escape means the same character, so `JSON.parse` returns the original value.
 */
const JSON_ESCAPES = new Map([
  ['<', '\\u003c'],
  ['>', '\\u003e'],
  ['&', '\\u0026'],
  ["'", '\\u0027'],
  ['\u2028', '\\u2028'],
  ['\u2029', '\\u2029'],
])
const JSON_UNSAFE = /[<>&'\u2028\u2029]/g

/** Maximum `indent` of `tojson`, in spaces. JSON.stringify uses at most 10. */
const MAX_JSON_INDENT = 10

function isKeywordArguments(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, '__keywords')
}

const HTML_ESCAPES = new Map([
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
  ["'", '&#39;'],
])

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES.get(character) ?? '')
}

/** Returns `value` as HTML: a SafeString as it is, anything else escaped. */
function escapeUnlessSafe(value: unknown): string {
  if (value instanceof SafeString) return value.toString()
  return escapeHtml(String(value ?? ''))
}

/**
 * Serializes a value as JSON to embed in a `<script>` element or in a single-quoted
 * attribute, such as `const data = [[ payload | tojson ]]`. The output is marked safe;
 * `undefined` becomes `null`, a SafeString becomes its text. `indent` (0 to 10 spaces, also
 * `tojson(indent=2)`) pretty-prints.
 *
 * NOTE: The output contains `"`, so it is not safe in a double-quoted attribute.
 */
export function tojson(value: unknown, indent?: unknown): nunjucks.runtime.SafeString {
  const spaces = isKeywordArguments(indent) ? indent.indent : indent
  if (
    spaces !== undefined &&
    (typeof spaces !== 'number' || !Number.isInteger(spaces) || spaces < 0)
  ) {
    throw new TemplateError(`tojson indent must be a whole number of spaces, got ${String(spaces)}`)
  }
  const json =
    JSON.stringify(value, safeStringAsText, Math.min(spaces ?? 0, MAX_JSON_INDENT)) ?? 'null'
  return new SafeString(json.replace(JSON_UNSAFE, (character) => JSON_ESCAPES.get(character) ?? ''))
}

function safeStringAsText(_key: string, value: unknown): unknown {
  return value instanceof SafeString ? value.toString() : value
}

// URL shapes linked by `urlize`, as in Nunjucks 3.2.4, applied to the escaped text.
const HTTP_URL = /^https?:\/\//
const WWW_URL = /^www\./
const EMAIL_LOCAL_PART = /^[\w.!#$%&'*+\-/=?^`{|}~]+$/
const DOMAIN = /^[a-z\d.-]+$/i
const COMMON_TLD = /\.(?:org|net|com)(?::|\/|$)/
const PARTIAL_ENTITY = /&[a-z\d#]*$/i

// Punctuation kept outside a link, in escaped form: `(<url>).` links only `url`.
const LEADING_PUNCTUATION = ['&lt;', '(']
const TRAILING_PUNCTUATION = ['&gt;', '.', ',', ')']

function splitPunctuation(word: string): [before: string, url: string, after: string] {
  const before = LEADING_PUNCTUATION.find((mark) => word.startsWith(mark)) ?? ''
  let url = word.slice(before.length)
  let after = ''
  for (;;) {
    const mark = TRAILING_PUNCTUATION.find((end) => url.endsWith(end) && url.length > end.length)
    if (mark === undefined) break
    url = url.slice(0, url.length - mark.length)
    after = mark + after
  }
  return [before, url, after]
}

function isEmail(text: string): boolean {
  const at = text.indexOf('@')
  if (at <= 0 || at !== text.lastIndexOf('@')) return false
  const domain = text.slice(at + 1)
  return (
    EMAIL_LOCAL_PART.test(text.slice(0, at)) &&
    DOMAIN.test(domain) &&
    domain.includes('.') &&
    !domain.startsWith('.') &&
    !domain.endsWith('.') &&
    !domain.includes('..')
  )
}

/**
 * Turns URLs and email addresses in text into links, and returns a SafeString so that the
 * links survive autoescaping. Unlike the Nunjucks 3.2.4 filter, it escapes the text first
 * (a SafeString input is taken as HTML already). So neither the text nor a URL can add
 * markup or leave the `href` attribute. Links only start with `http://`, `https://` or
 * `mailto:`, and punctuation around a URL stays outside the link.
 */
export function urlize(
  input: unknown,
  length?: unknown,
  nofollow?: unknown,
): nunjucks.runtime.SafeString {
  const html = escapeUnlessSafe(input)
  const maxLength = typeof length === 'number' && length > 0 ? length : Infinity
  const rel = nofollow === true ? ' rel="nofollow"' : ''

  const words = html.split(/(\s+)/).map((word) => {
    const [before, url, after] = splitPunctuation(word)
    const text = url.length > maxLength ? url.slice(0, maxLength).replace(PARTIAL_ENTITY, '') : url

    let link: string | undefined
    if (HTTP_URL.test(url)) link = `<a href="${url}"${rel}>${text}</a>`
    else if (WWW_URL.test(url)) link = `<a href="http://${url}"${rel}>${text}</a>`
    else if (isEmail(url)) link = `<a href="mailto:${url}">${url}</a>`
    else if (COMMON_TLD.test(url)) link = `<a href="http://${url}"${rel}>${text}</a>`
    return link === undefined ? word : before + link + after
  })
  return new SafeString(words.join(''))
}

type Filter = (this: unknown, ...args: unknown[]) => unknown

/**
 * Wraps the built-in `replace`: when the input is a SafeString, the search and replacement
 * strings are escaped as Jinja does, because Nunjucks 3.2.4 marks the result safe and would
 * otherwise insert them as raw HTML.
 */
function markupAwareReplace(builtin: Filter): Filter {
  return function replace(this: unknown, input, old, replacement, maxCount) {
    if (input instanceof SafeString && !(old instanceof RegExp)) {
      return builtin.call(
        this,
        input,
        escapeUnlessSafe(old),
        escapeUnlessSafe(replacement),
        maxCount,
      )
    }
    return builtin.call(this, input, old, replacement, maxCount)
  }
}

/**
 * Wraps the built-in `truncate`: when the input is a SafeString, the `end` text is escaped,
 * because Nunjucks 3.2.4 marks the result safe.
 */
function markupAwareTruncate(builtin: Filter): Filter {
  return function truncate(this: unknown, input, length, killwords, end) {
    if (input instanceof SafeString && typeof end === 'string') {
      return builtin.call(this, input, length, killwords, escapeHtml(end))
    }
    return builtin.call(this, input, length, killwords, end)
  }
}

/** Filters whose behaviour keeps output escaped, so applications cannot replace them. */
export const PROTECTED_FILTERS: ReadonlySet<string> = new Set([
  'safe',
  'escape',
  'e',
  'forceescape',
  'tojson',
  'urlize',
  'replace',
  'truncate',
  'dump',
])

/** Adds `tojson` and the escaping versions of `urlize`, `replace` and `truncate`. */
export function installFilters(env: nunjucks.Environment): void {
  env.addFilter('tojson', tojson)
  env.addFilter('urlize', urlize)
  env.addFilter('replace', markupAwareReplace(env.getFilter('replace')))
  env.addFilter('truncate', markupAwareTruncate(env.getFilter('truncate')))
}
