import type { Context, MiddlewareHandler } from 'hono'
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { FastBlocksEnv } from '../app/env.ts'
import { RateLimitError } from '../errors/index.ts'
import { rateLimitKey } from '../request-context/client-address.ts'

export interface RateLimitOptions {
  /** Requests allowed per window. */
  points: number
  /** Window length in seconds. */
  duration: number
  /**
   * Name of the policy, used as the key prefix so that two policies never share counters
   * and in log lines. Default `default`.
   */
  name?: string
  /**
   * Returns the counter key of a request. Default: the client address after the trusted-proxy
   * rules, with IPv6 grouped by /64 because one host usually owns a whole /64.
   */
  key?: (c: Context<FastBlocksEnv>) => string
  /**
   * Counter store. Default an in-memory store of this process. Pass a `RateLimiterRedis` from
   * rate-limiter-flexible (with an in-memory `insuranceLimiter`) to share counters between
   * processes.
   */
  limiter?: RateLimiterAbstract
}

function defaultKey(c: Context<FastBlocksEnv>): string {
  return rateLimitKey(c.get('clientAddress'))
}

/**
 * Creates a rate-limit policy for the routes it is mounted on (pipeline layer 4). Each request
 * takes one point; a request past the limit gets 429 with `Retry-After` in seconds before the
 * handler runs.
 *
 * @example
 * ```ts
 * app.post('/login', rateLimit({ name: 'login', points: 5, duration: 60 }), login)
 * ```
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<FastBlocksEnv> {
  if (!Number.isInteger(options.points) || options.points < 1) {
    throw new TypeError(`rateLimit points must be a positive integer, got ${options.points}`)
  }
  if (!Number.isInteger(options.duration) || options.duration < 1) {
    throw new TypeError(
      `rateLimit duration must be a positive integer of seconds, got ${options.duration}`,
    )
  }
  const name = options.name ?? 'default'
  const limiter =
    options.limiter ??
    new RateLimiterMemory({ points: options.points, duration: options.duration, keyPrefix: name })
  const keyOf = options.key ?? defaultKey

  return async (c, next) => {
    const key = keyOf(c)
    try {
      const result = await limiter.consume(key)
      c.header('RateLimit-Remaining', String(result.remainingPoints))
    } catch (rejection) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the limit is reached, and
      // with an Error when its store fails and no insurance limiter is set.
      if (!(rejection instanceof RateLimiterRes)) throw rejection
      const retryAfter = Math.ceil(rejection.msBeforeNext / 1000)
      throw new RateLimitError(retryAfter, {
        details: { layer: 'rate-limit', policy: name, reason: 'limit exceeded' },
      })
    }
    await next()
  }
}
