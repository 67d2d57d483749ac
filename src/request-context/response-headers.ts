/**
 * A `Headers` implementation over a plain `Map`, for the headers of responses that the
 * pipeline changes after the handler.
 *
 * Every response gets about fifteen headers from the inner layers. Setting them on the
 * runtime's `Headers` (undici on Node) runs WebIDL conversions and a sort for each one,
 * which a CPU profile of `bench/` showed to be the largest framework cost of a small
 * response. This class stores them in a `Map`. It checks names as `Headers` does and values
 * as Node's `writeHead` does, which rejects every value that `Headers` rejects: an invalid
 * name, or a value with a control character other than tab or a character above U+00FF,
 * raises TypeError. Surrounding whitespace is removed from values.
 *
 * Instances pass `instanceof Headers`, so `@hono/node-server` and Hono treat them as the
 * runtime's own. Iteration yields names in lower case, with one entry per `Set-Cookie`.
 * Unlike `Headers`, it yields them in the order they were first set, not sorted: the Node
 * server writes them in that order, and HTTP gives the order of different names no meaning.
 */

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// The characters Node's `writeHead` rejects (`checkInvalidHeaderChar` in Node 20). Node
// checks only when it writes the response, after every layer has run, and then sends a bare
// 500 without the security headers, so values are checked here with the same rule.
const FORBIDDEN_VALUE_CHARACTER = /[^\t\x20-\x7e\x80-\xff]/
const SURROUNDING_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g

// Lower-case forms of names already checked. Names come from code, so there are few of them,
// and the cache is emptied if a caller passes many.
const checkedNames = new Map<string, string>()
const MAX_CHECKED_NAMES = 500

function normalizeName(name: string): string {
  const known = checkedNames.get(name)
  if (known !== undefined) return known
  const text = String(name)
  if (!HEADER_NAME.test(text)) throw new TypeError(`Invalid header name: "${text}"`)
  const lowerCase = text.toLowerCase()
  if (checkedNames.size >= MAX_CHECKED_NAMES) checkedNames.clear()
  checkedNames.set(text, lowerCase)
  return lowerCase
}

function normalizeValue(name: string, value: string): string {
  let text = String(value)
  const first = text.charCodeAt(0)
  const last = text.charCodeAt(text.length - 1)
  // Tab, line feed, carriage return and space at either end are removed, as in `Headers`.
  if (first <= 32 || last <= 32) text = text.replace(SURROUNDING_WHITESPACE, '')
  if (FORBIDDEN_VALUE_CHARACTER.test(text)) {
    throw new TypeError(
      `Invalid value of header "${name}": it contains a control character ` +
        '(such as NUL, CR or LF) or a character above U+00FF',
    )
  }
  return text
}

export class ResponseHeaders {
  readonly #fields = new Map<string, string>()
  readonly #cookies: string[] = []

  /**
   * Copies `init`: another `Headers`, an array of name and value pairs, or a record.
   * A record's array value gives one header line per element, as Node's `writeHead` does.
   * Any other value is converted to a string, as `Headers` does.
   */
  constructor(init?: HeadersInit | Record<string, string | readonly string[]>) {
    if (init === undefined || init === null) return
    if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      if (init instanceof Headers) {
        for (const cookie of init.getSetCookie()) this.#cookies.push(cookie)
      }
      for (const pair of init as Iterable<readonly string[]>) {
        // Headers raises for a pair that is not a name and a value, and so does this class.
        if (pair.length !== 2) {
          throw new TypeError(
            `Invalid header pair: expected a name and a value, got ${pair.length} items`,
          )
        }
        const [name = '', value = ''] = pair
        if (init instanceof Headers && name === 'set-cookie') continue
        this.append(name, value)
      }
      return
    }
    for (const name of Object.keys(init)) {
      // eslint-disable-next-line security/detect-object-injection -- keys of the record itself
      const value = (init as Record<string, string | readonly string[]>)[name]
      if (Array.isArray(value)) for (const item of value) this.append(name, item)
      else this.append(name, value as string)
    }
  }

  append(name: string, value: string): void {
    const key = normalizeName(name)
    const text = normalizeValue(key, value)
    if (key === 'set-cookie') {
      this.#cookies.push(text)
      return
    }
    const existing = this.#fields.get(key)
    this.#fields.set(key, existing === undefined ? text : `${existing}, ${text}`)
  }

  set(name: string, value: string): void {
    const key = normalizeName(name)
    const text = normalizeValue(key, value)
    if (key === 'set-cookie') {
      this.#cookies.length = 0
      this.#cookies.push(text)
      return
    }
    this.#fields.set(key, text)
  }

  /**
   * Sets a header without checking it, for names in lower case and values that the caller
   * built from checked parts, such as a policy's fixed headers. Not for `Set-Cookie`.
   */
  setValidated(lowerCaseName: string, value: string): void {
    this.#fields.set(lowerCaseName, value)
  }

  get(name: string): string | null {
    const key = normalizeName(name)
    if (key === 'set-cookie') return this.#cookies.length === 0 ? null : this.#cookies.join(', ')
    return this.#fields.get(key) ?? null
  }

  has(name: string): boolean {
    const key = normalizeName(name)
    return key === 'set-cookie' ? this.#cookies.length > 0 : this.#fields.has(key)
  }

  delete(name: string): void {
    const key = normalizeName(name)
    if (key === 'set-cookie') this.#cookies.length = 0
    else this.#fields.delete(key)
  }

  getSetCookie(): string[] {
    return [...this.#cookies]
  }

  entries(): ArrayIterator<[string, string]> | MapIterator<[string, string]> {
    // Without cookies the Map's own iterator yields the same entries without a copy.
    if (this.#cookies.length === 0) return this.#fields.entries()
    return this.#entryList().values()
  }

  keys(): ArrayIterator<string> {
    return this.#entryList()
      .map(([name]) => name)
      .values()
  }

  values(): ArrayIterator<string> {
    return this.#entryList()
      .map(([, value]) => value)
      .values()
  }

  forEach(
    callback: (value: string, name: string, parent: Headers) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, value] of this.#entryList()) {
      callback.call(thisArg, value, name, this as unknown as Headers)
    }
  }

  [Symbol.iterator](): ArrayIterator<[string, string]> | MapIterator<[string, string]> {
    return this.entries()
  }

  #entryList(): Array<[string, string]> {
    const entries: Array<[string, string]> = []
    for (const entry of this.#fields) entries.push(entry)
    for (const cookie of this.#cookies) entries.push(['set-cookie', cookie])
    return entries
  }
}
Object.setPrototypeOf(ResponseHeaders.prototype, Headers.prototype)
