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
 * (503) into the error boundary, which sends the error page at once. One interval timer per
 * layer checks the open requests every tenth of `ms` (every second at most), so the 503 comes
 * up to that much after the limit. A timer per request cost more than the check in profiles
 * of `bench/`. Place it before `bodyLimit()` so that reading the body
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

  const deadlines = new DeadlineCheck(Math.min(Math.max(Math.ceil(ms / 10), 1), 1_000))
  const timeoutError = () =>
    new RequestTimeoutError(ms, {
      details: { layer: 'limits', reason: 'handler timed out', timeoutMs: ms },
    })

  return function requestTimeout(_c, next) {
    const handled = next()
    // The first of the handler and the deadline settles the promise. A late result or error
    // of the handler is dropped, because the 503 has been sent by then.
    return new Promise<void>((resolve, reject) => {
      const pending: PendingRequest = {
        deadline: performance.now() + ms,
        expire: () => reject(timeoutError()),
      }
      deadlines.add(pending)
      handled.then(
        () => {
          deadlines.delete(pending)
          resolve()
        },
        (error: unknown) => {
          deadlines.delete(pending)
          reject(error)
        },
      )
    })
  }
}

interface PendingRequest {
  /** `performance.now()` time after which the request has timed out. */
  deadline: number
  expire(): void
}

/**
 * Open requests of one timeout layer, checked by one interval timer that runs only while
 * requests are open, so an idle server has no timer. Every request of the layer has the same time limit, so insertion order
 * is deadline order, and a check stops at the first request still within its time.
 */
class DeadlineCheck {
  readonly #pending = new Set<PendingRequest>()
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | undefined

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  add(request: PendingRequest): void {
    this.#pending.add(request)
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#expireOverdue(), this.#intervalMs)
      // Open requests keep the server alive, so the timer need not.
      this.#timer.unref()
    }
  }

  delete(request: PendingRequest): void {
    this.#pending.delete(request)
    if (this.#pending.size === 0) this.#stop()
  }

  #stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #expireOverdue(): void {
    const now = performance.now()
    for (const request of this.#pending) {
      if (request.deadline > now) break
      this.#pending.delete(request)
      request.expire()
    }
    if (this.#pending.size === 0) this.#stop()
  }
}
