import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'

// Key under which `@hono/node-server` (2.x) keeps the Node request of its Request objects.
// Found on the first such request.
let incomingKey: symbol | undefined

/**
 * Returns the Node request that `c.req.raw` was made from when the app runs on
 * `@hono/node-server`, or undefined: in other runtimes, in `app.request()`, for a request
 * the app dispatches itself with `app.fetch(request, c.env)`, and once a layer has replaced
 * `c.req.raw`. Layers read headers and the body from it directly, which costs less than
 * through the runtime's Request and Headers.
 *
 * NOTE: This reads a field that `@hono/node-server` does not document. When a later version
 * drops it, this returns undefined and the callers use the runtime's Request.
 */
export function nodeRequestOf(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (typeof incoming?.headers !== 'object' || incoming.headers === null) return undefined

  const raw = c.req.raw as unknown as Record<symbol, unknown>
  incomingKey ??= Object.getOwnPropertySymbols(raw).find(
    (symbol) => symbol.description === 'incomingKey',
  )
  // eslint-disable-next-line security/detect-object-injection -- a symbol found on the request
  if (incomingKey === undefined || raw[incomingKey] !== incoming) return undefined
  return incoming
}

/**
 * Returns a request header by its lower-case name, read from Node's parsed headers when
 * `nodeRequestOf(c)` gives the Node request, else from `c.req.header()`. Node joins repeated
 * headers with `, ` (`; ` for Cookie), as the runtime's Headers does, except for the names
 * whose repeats it drops (such as Content-Type, Referer, Host and User-Agent), so only other
 * names may be passed.
 */
export function requestHeader(c: Context, lowerCaseName: string): string | undefined {
  const incoming = nodeRequestOf(c)
  if (incoming === undefined) return c.req.header(lowerCaseName)
  // eslint-disable-next-line security/detect-object-injection -- lower-case names from code
  const value = incoming.headers[lowerCaseName]
  return typeof value === 'string' ? value : undefined
}

/** Returns the address of the TCP peer of the Node request, or undefined outside Node. */
export function peerAddressOf(c: Context): string | undefined {
  return nodeRequestOf(c)?.socket.remoteAddress
}
