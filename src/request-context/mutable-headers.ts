import type { Context } from 'hono'
import { ResponseHeaders } from './response-headers.ts'

type ResponseCache = [status: number, body: unknown, headers: unknown]

// Key under which `@hono/node-server` (2.x) keeps the status, body and headers of a response
// it has not turned into a runtime Response yet. Found on the first such response.
let cacheKey: symbol | undefined

/**
 * Returns the status, body and headers that `@hono/node-server` keeps for a response it
 * writes without building a runtime Response, or undefined for any other response.
 *
 * NOTE: This reads a field that `@hono/node-server` does not document. When a later version
 * drops it, this returns undefined and `mutableHeaders()` uses the slower general path.
 */
function responseCacheOf(response: Response): ResponseCache | undefined {
  if (cacheKey === undefined) {
    cacheKey = Object.getOwnPropertySymbols(response).find(
      (symbol) => symbol.description === 'cache',
    )
    if (cacheKey === undefined) return undefined
  }
  // eslint-disable-next-line security/detect-object-injection -- a symbol found on the response
  const cache = (response as unknown as Record<symbol, unknown>)[cacheKey]
  return Array.isArray(cache) && cache.length === 3 ? (cache as ResponseCache) : undefined
}

/**
 * Returns the response headers for changing in place.
 *
 * A response that `@hono/node-server` writes directly (a string or byte body made with
 * `c.html()`, `c.text()` or `new Response()`) gets a `ResponseHeaders`, which the server
 * writes as it writes the runtime's own Headers but which costs less per header set.
 * Responses made with `Response.redirect()` or `fetch()` have immutable headers, so such a
 * response is copied first. Changing the headers in place also avoids `c.header()`, which
 * builds a new Response for every header set after the handler returned.
 *
 * Raises TypeError when the handler gave the response an invalid header name or value, and
 * then removes the response from the context (see `discardInvalidResponse`).
 */
export function mutableHeaders(c: Context): Headers {
  const response = c.res
  const cache = responseCacheOf(response)
  if (cache !== undefined) {
    const [, body, init] = cache
    if (init instanceof ResponseHeaders) return init as unknown as Headers
    let headers: ResponseHeaders
    try {
      // Without headers, the server would send its default text content type.
      headers = new ResponseHeaders(
        (init ?? (body === null ? undefined : { 'content-type': 'text/plain; charset=UTF-8' })) as
          HeadersInit | undefined,
      )
    } catch (error) {
      discardInvalidResponse(c)
      throw error
    }
    cache[2] = headers
    return headers as unknown as Headers
  }

  let headers: Headers
  try {
    headers = response.headers
  } catch (error) {
    discardInvalidResponse(c)
    throw error
  }
  if (knownMutable.has(headers)) return headers
  try {
    // Deleting a header no response should carry is the cheapest write that throws on
    // immutable headers.
    headers.delete('X-Powered-By')
  } catch {
    c.res = new Response(c.res.body, c.res)
    knownMutable.add(c.res.headers)
    return c.res.headers
  }
  knownMutable.add(headers)
  return headers
}

/**
 * Removes a response whose headers are invalid, so that the error page can replace it.
 * Hono copies the headers of the response it replaces onto the new one, and reading these
 * raises again. The error would then pass every outer layer and leave as a bare error page
 * without the security headers.
 */
function discardInvalidResponse(c: Context): void {
  c.res = undefined
}

// Headers objects already found writable, so that several layers changing one response probe
// it once.
const knownMutable = new WeakSet<Headers>()
