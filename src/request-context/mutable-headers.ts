import type { Context } from 'hono'

/**
 * Returns the response headers for changing in place. Responses made with
 * `Response.redirect()` or `fetch()` have immutable headers, so such a response is copied
 * first. Changing `c.res.headers` directly also avoids `c.header()`, which builds a new
 * Response for every header set after the handler returned.
 */
export function mutableHeaders(c: Context): Headers {
  const headers = c.res.headers
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

// Headers objects already found writable, so that several layers changing one response probe
// it once.
const knownMutable = new WeakSet<Headers>()
