import type { ServerOptions } from 'node:http'
import type { MiddlewareSettings } from '../config/types.ts'

/** The `node:http` server options that bound what a slow or oversized client can hold. */
export type NodeServerLimits = Required<
  Pick<
    ServerOptions,
    | 'headersTimeout'
    | 'requestTimeout'
    | 'keepAliveTimeout'
    | 'maxHeaderSize'
    | 'connectionsCheckingInterval'
  >
>

/** Node's own default idle time of a kept-alive connection, in milliseconds (Node 20). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000

/**
 * Node checks the header and request timeouts of open connections at this interval (its
 * default is 30 s), so a timeout fires at most this late.
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000

/**
 * Returns the `node:http` server options of the limits layer, for `serverOptions` of
 * `serve()` or `createAdaptorServer()` from `@hono/node-server`:
 *
 * - `headersTimeout` = `headers_timeout`: time to receive the request headers, against
 *   clients that send headers slowly. Node responds 408 and closes the connection.
 * - `requestTimeout`: the larger of `request_timeout` and `headers_timeout`: time to receive
 *   the whole request, body included, against clients that send the body slowly or stop
 *   sending it. Node responds 408 and closes the connection, which also ends a pending read
 *   of `bodyLimit()`. Node requires it to be at least `headersTimeout`.
 * - `maxHeaderSize` = `max_header_size`: larger request headers get 431 from Node itself.
 * - `keepAliveTimeout`: 5000 ms, Node's default, made explicit.
 * - `connectionsCheckingInterval`: 1000 ms, so the two timeouts fire within a second.
 *
 * @example
 * ```ts
 * serve({ fetch: app.fetch, port: 8000, serverOptions: nodeServerLimits(settings.middleware) })
 * ```
 */
export function nodeServerLimits(
  settings: Pick<MiddlewareSettings, 'headers_timeout' | 'request_timeout' | 'max_header_size'>,
): NodeServerLimits {
  return {
    headersTimeout: settings.headers_timeout,
    requestTimeout: Math.max(settings.request_timeout, settings.headers_timeout),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderSize: settings.max_header_size,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  }
}
