/**
 * Pipeline layer 2: limits on what one request may cost before any other layer spends work
 * on it. `requestTimeout()` bounds the time of the inner layers and the handler,
 * `bodyLimit()` bounds the request body, and `nodeServerLimits()` gives the Node server its
 * header size limit and its timeouts against slow clients.
 */

export { bodyLimit, type BodyLimitOptions } from './body-limit.ts'
export { requestTimeout, type RequestTimeoutOptions } from './request-timeout.ts'
export { nodeServerLimits, type NodeServerLimits } from './node-server.ts'
