import type { MiddlewareHandler } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import { InvalidSettingsError, RequestTimeoutError } from '../errors/index.ts'

export interface RequestTimeoutOptions {
  /** Time the inner layers and the handler may take, in milliseconds. Default 30000. */
  ms?: number
}

const DEFAULT_TIMEOUT_MS = 30_000

/**
 * Pipeline layer 2: the request time limit.
 *
 * When the inner layers and the handler take longer than `ms`, raises RequestTimeoutError
 * (503) into the error boundary, which sends the error page at once. The timer is cleared
 * as soon as the handler finishes. Place it before `bodyLimit()` so that reading the body
 * counts against the time too. The timeout is logged once through `c.var.logger` with the
 * request id.
 *
 * NOTE: JavaScript cannot stop a running handler. It keeps running after the 503, and its
 * late response or error is discarded, so a handler with side effects must bound its own
 * work (database and HTTP clients have their own timeouts).
 *
 * @example
 * ```ts
 * app.use(requestTimeout()) // 30 s
 * app.use(requestTimeout({ ms: settings.middleware.request_timeout }))
 * ```
 */
export function requestTimeout(
  options: RequestTimeoutOptions = {},
): MiddlewareHandler<FastBlocksEnv> {
  const ms = options.ms ?? DEFAULT_TIMEOUT_MS
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new InvalidSettingsError(
      `Invalid request timeout: ${ms} is not a whole number of milliseconds > 0 ` +
        '(middleware.request_timeout)',
    )
  }

  const timeoutError = () =>
    new RequestTimeoutError(ms, {
      details: { layer: 'limits', reason: 'handler timed out', timeoutMs: ms },
    })

  return function requestTimeout(_c, next) {
    const handled = next()
    // The first of the handler and the timer settles the promise. A late result or error of
    // the handler is dropped, because the 503 has been sent by then.
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(timeoutError()), ms)
      handled.then(
        () => {
          clearTimeout(timer)
          resolve()
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}
