import { randomUUID } from 'node:crypto'
import type { Context, MiddlewareHandler } from 'hono'
import type { Logger } from 'pino'
import type { FastBlocksEnv } from '../app/env.ts'
import { FastBlocksError, NonCanonicalPathError, toFastBlocksError } from '../errors/index.ts'
import { isCanonicalPath, rawPathOf } from './canonical-path.ts'
import { mutableHeaders } from './mutable-headers.ts'
import { ResponseHeaders } from './response-headers.ts'
import { errorResponse, type ErrorResponseOptions } from './error-response.ts'

export { createLogger, type LoggerOptions } from './logger.ts'
export { isCanonicalPath, rawPathOf } from './canonical-path.ts'
export { mutableHeaders } from './mutable-headers.ts'
export { errorResponse, publicMessage, type ErrorResponseOptions } from './error-response.ts'

export interface RequestContextOptions extends ErrorResponseOptions {
  /** Root logger; each request gets a child bound to its request id. */
  logger: Logger
  /** Returns the client address of a request after the trusted-proxy rules. */
  resolveClientAddress: (c: Context<FastBlocksEnv>) => string
  /** Returns the origin the app is served on for a request, such as `https://app.example`. */
  resolveOrigin: (c: Context<FastBlocksEnv>) => string
  /**
   * Sets the baseline security headers on a response that left the pipeline without them,
   * such as an error raised before the security headers layer ran.
   */
  ensureSecurityHeaders: (headers: Headers) => void
}

/**
 * Logs an error once for the request: a warning with the code, the message and the error's
 * `details` (layer, reason) for a 4xx, an error with the stack for a 5xx. The error boundary
 * is the one place that calls it, so each rejection has exactly one log line.
 */
export function logRejection(c: Context<FastBlocksEnv>, error: unknown): FastBlocksError {
  const failure = toFastBlocksError(error)
  const logger = c.get('logger')
  if (failure.status >= 500) {
    logger?.error(
      { ...failure.details, err: failure.cause ?? failure, code: failure.code },
      'request failed',
    )
  } else {
    logger?.warn(
      { ...failure.details, code: failure.code, message: failure.message },
      'request rejected',
    )
  }
  return failure
}

/**
 * Creates the error handler shared by the request context layer and `app.onError`: it logs
 * the error with `logRejection()` and returns the error page or fragment.
 */
export function createErrorHandler(options: ErrorResponseOptions) {
  return async (error: unknown, c: Context<FastBlocksEnv>): Promise<Response> =>
    errorResponse(c, logRejection(c, error), options)
}

/**
 * Returns the request target as the client sent it. The URL of `c.req.url` has been parsed
 * with WHATWG rules already, which remove dot segments such as `/%2e%2e/`, so the Node
 * request's own URL is read when the app runs on `@hono/node-server`.
 */
function wirePathOf(c: Context<FastBlocksEnv>): string {
  const incoming = (c.env as { incoming?: { url?: unknown } } | undefined)?.incoming
  return typeof incoming?.url === 'string' ? incoming.url : c.req.url
}

/**
 * Pipeline layer 1: the request context.
 *
 * Gives each request an id (sent back as `X-Request-Id`), a child logger, the client
 * address and the app origin. It rejects non-canonical paths before any router or guard
 * matches them, turns every error into an error page or fragment, sets the baseline
 * security headers on every response that lacks them, and logs one line per request.
 *
 * It is outermost so that errors of every inner layer, the 413 of the limits layer
 * included, pass through one boundary.
 */
export function requestContext(options: RequestContextOptions): MiddlewareHandler<FastBlocksEnv> {
  const handleError = createErrorHandler(options)

  return async (c, next) => {
    const started = performance.now()
    const requestId = randomUUID()
    const logger = options.logger.child({ requestId })
    c.set('requestId', requestId)
    c.set('logger', logger)
    c.set('clientAddress', options.resolveClientAddress(c))
    c.set('appOrigin', options.resolveOrigin(c))

    try {
      // Router and guards match the decoded path. A path that a normaliser would change could
      // pass a guard and still reach the guarded handler, so it is rejected here.
      if (!isCanonicalPath(rawPathOf(wirePathOf(c)))) throw new NonCanonicalPathError()
      await next()
    } catch (error) {
      c.res = await handleError(error, c)
    }

    const headers = mutableHeaders(c)
    // A UUID needs no header value check.
    if (headers instanceof ResponseHeaders) headers.setValidated('x-request-id', requestId)
    else headers.set('X-Request-Id', requestId)
    options.ensureSecurityHeaders(headers)

    if (!logger.isLevelEnabled('info')) return
    logger.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        client: c.get('clientAddress'),
      },
      'request',
    )
  }
}
