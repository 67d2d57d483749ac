import type { Context } from 'hono'

/**
 * Conditional GET handling for the security headers layer. The layer removes
 * `If-None-Match` and `If-Modified-Since` from the request, so that no inner layer returns
 * 304 for a page whose body carries a CSP nonce: a 304 would pair the new nonce in the
 * header with the old nonce in the cached body, and the browser would block every script.
 * After the inner layers, the layer evaluates the conditions itself for responses that are
 * not HTML, so static files and other assets keep their 304s.
 */

/** The conditional headers a request carried. */
export interface Preconditions {
  ifNoneMatch: string | null
  ifModifiedSince: string | null
}

/** Removes the conditional GET headers from the request and returns them, if there were any. */
export function takePreconditions(c: Context): Preconditions | undefined {
  const headers = c.req.raw.headers
  const preconditions = {
    ifNoneMatch: headers.get('If-None-Match'),
    ifModifiedSince: headers.get('If-Modified-Since'),
  }
  if (preconditions.ifNoneMatch === null && preconditions.ifModifiedSince === null) return undefined

  try {
    headers.delete('If-None-Match')
    headers.delete('If-Modified-Since')
  } catch {
    // A request whose headers are immutable is replaced by a copy without the two headers.
    const copy = new Headers(headers)
    copy.delete('If-None-Match')
    copy.delete('If-Modified-Since')
    c.req.raw = new Request(c.req.raw, { headers: copy })
  }
  return preconditions
}

function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, '')
}

/** Weak comparison of an ETag with an If-None-Match list, as RFC 9110 section 13.1.2 defines. */
function matchesEntityTag(etag: string, ifNoneMatch: string): boolean {
  if (ifNoneMatch.trim() === '*') return true
  const expected = opaqueTag(etag)
  return ifNoneMatch.split(',').some((tag) => opaqueTag(tag) === expected)
}

/** Returns true when the cached copy the preconditions describe is still current. */
export function isNotModified(response: Response, preconditions: Preconditions): boolean {
  // If-None-Match takes precedence: If-Modified-Since is ignored when it is present.
  if (preconditions.ifNoneMatch !== null) {
    const etag = response.headers.get('ETag')
    if (preconditions.ifNoneMatch.trim() === '*') return true
    return etag !== null && matchesEntityTag(etag, preconditions.ifNoneMatch)
  }

  const lastModified = Date.parse(response.headers.get('Last-Modified') ?? '')
  const ifModifiedSince = Date.parse(preconditions.ifModifiedSince ?? '')
  if (Number.isNaN(lastModified) || Number.isNaN(ifModifiedSince)) return false
  return lastModified <= ifModifiedSince
}

/**
 * Returns a 304 for a response the client has a current copy of. The 304 keeps the
 * response's headers, cookies included, except those that describe the body.
 */
export function notModifiedResponse(response: Response): Response {
  const headers = new Headers(response.headers)
  for (const name of ['Content-Type', 'Content-Length', 'Content-Encoding', 'Content-Range']) {
    headers.delete(name)
  }
  void response.body?.cancel()
  return new Response(null, { status: 304, headers })
}
