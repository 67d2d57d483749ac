/**
 * Cookie header parsing and Set-Cookie serialization for the session cookie.
 *
 * The parser never throws: a `Cookie` header is attacker-controlled, and one malformed pair
 * must not hide the others or turn the request into a 500.
 */

/** Cookie names that RFC 6265 allows (an HTTP token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Parses a `Cookie` request header into a null-prototype object of name to value.
 *
 * - When a name occurs more than once, the first occurrence wins. Browsers send cookies
 *   with longer paths first, so the first one is the most specific for this request
 *   (RFC 6265 section 5.4, step 2).
 * - Pairs without `=` and pairs with an empty name are skipped.
 * - Spaces and tabs around names and values are trimmed, and one pair of surrounding
 *   double quotes is removed from a value.
 * - Values are percent-decoded where the decoding is valid. A value with an invalid
 *   escape such as `%` or `%E0%A4%A` is kept as sent instead of throwing.
 * - Names such as `__proto__` or `constructor` are ordinary keys, because the object has
 *   no prototype.
 *
 * @param header - The raw `Cookie` header value.
 * @param name - When given, only this cookie is looked up and returned.
 *
 * @example
 * ```ts
 * parseCookieHeader('a=%; theme=dark') // { a: '%', theme: 'dark' }
 * parseCookieHeader(c.req.header('Cookie') ?? '', 'session').session
 * ```
 */
export function parseCookieHeader(header: string, name?: string): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null)

  // Fast path for the common request that does not carry the requested cookie.
  if (name !== undefined && !header.includes(name)) return cookies

  let start = 0
  while (start < header.length) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    const pair = header.slice(start, end)
    start = end + 1

    const separator = pair.indexOf('=')
    if (separator === -1) continue
    const pairName = trimWhitespace(pair.slice(0, separator))
    if (pairName === '' || Object.hasOwn(cookies, pairName)) continue
    if (name !== undefined && pairName !== name) continue

    // eslint-disable-next-line security/detect-object-injection -- null-prototype object
    cookies[pairName] = decodeCookieValue(unquote(trimWhitespace(pair.slice(separator + 1))))
    if (name !== undefined) break
  }
  return cookies
}

/** Returns true when `name` can be used as a cookie name. */
export function isValidCookieName(name: string): boolean {
  return COOKIE_NAME.test(name)
}

/** Attributes of the session cookie, fixed when the middleware is created. */
export interface CookieAttributes {
  /** Adds `Secure`, so the browser sends the cookie over HTTPS only. */
  secure: boolean
}

/**
 * Serializes a Set-Cookie header value with `Path=/`, `HttpOnly` and `SameSite=Lax`, plus
 * `Secure` when configured. No `Domain` is ever set, so the cookie stays on this host.
 *
 * `value` is written as is: callers pass a sealed session, which contains only base64url
 * characters and dots.
 *
 * @param maxAge - Lifetime in seconds. 0 makes the browser delete the cookie.
 */
export function serializeCookie(
  name: string,
  value: string,
  maxAge: number,
  attributes: CookieAttributes,
): string {
  const secure = attributes.secure ? '; Secure' : ''
  return `${name}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly${secure}; SameSite=Lax`
}

function trimWhitespace(text: string): string {
  let start = 0
  let end = text.length
  while (start < end && isSpaceOrTab(text.charCodeAt(start))) start++
  while (end > start && isSpaceOrTab(text.charCodeAt(end - 1))) end--
  return start === 0 && end === text.length ? text : text.slice(start, end)
}

function isSpaceOrTab(code: number): boolean {
  return code === 0x20 || code === 0x09
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1)
  return value
}

function decodeCookieValue(value: string): string {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    // An invalid escape is kept as sent: the value is still usable, just not decoded.
    return value
  }
}
