import type { Context } from 'hono'

/**
 * Returns the response headers for changing in place. Responses made with
 * `Response.redirect()` or `fetch()` have immutable headers, so such a response is copied
 * first. Changing `c.res.headers` directly also avoids `c.header()`, which builds a new
 * Response for every header set after the handler returned.
 */
export function mutableHeaders(c: Context): Headers {
  const headers = c.res.headers
  try {
    headers.delete('X-Powered-By')
    return headers
  } catch {
    c.res = new Response(c.res.body, c.res)
    return c.res.headers
  }
}
