/**
 * Canonical request paths.
 *
 * Hono matches routes and middleware on the percent-decoded path, while a static file
 * handler or a proxy may normalise it further. When the two disagree, a guard on
 * `/admin/*` can miss a request that still reaches `admin/...` (`/admin%2Fusers`,
 * `/static//admin/x`, `/static/./admin/x`). Rejecting every path that a normaliser would
 * change keeps the router, the guards and the handlers acting on one path.
 */

// Encoded separators or dots, backslashes, NUL and other control characters, raw or encoded.
const FORBIDDEN_SEQUENCE = /%2f|%5c|%2e|%00|%0[1-9a-f]|%1[0-9a-f]|%7f|\\|[\x00-\x1f\x7f]/i

// An empty segment (`//`) or a dot segment (`/./`, `/../`, trailing `/.` or `/..`).
const NON_CANONICAL_SEGMENT = /\/\/|\/\.\.?(?:\/|$)/

/** Reads the path of a request URL without decoding it. */
export function rawPathOf(url: string): string {
  const schemeEnd = url.indexOf('://')
  const pathStart = schemeEnd === -1 ? 0 : url.indexOf('/', schemeEnd + 3)
  if (pathStart === -1) return '/'
  let pathEnd = url.length
  const queryStart = url.indexOf('?', pathStart)
  if (queryStart !== -1) pathEnd = queryStart
  const hashStart = url.indexOf('#', pathStart)
  if (hashStart !== -1 && hashStart < pathEnd) pathEnd = hashStart
  return url.slice(pathStart, pathEnd)
}

/**
 * Returns true when the raw (undecoded) path is canonical: no empty or dot segments, no
 * encoded separators or dots, no backslashes, no control characters and valid
 * percent-encoding.
 */
export function isCanonicalPath(rawPath: string): boolean {
  if (!rawPath.startsWith('/')) return false
  if (FORBIDDEN_SEQUENCE.test(rawPath)) return false
  if (NON_CANONICAL_SEGMENT.test(rawPath)) return false
  if (rawPath.includes('%')) {
    try {
      decodeURIComponent(rawPath)
    } catch {
      return false
    }
  }
  return true
}
