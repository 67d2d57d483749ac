import { InvalidSettingsError } from '../errors/index.ts'
import { isValidCookieName } from './cookie.ts'

/** Options of the {@link session} middleware. The app maps them from `app.yml`. */
export interface SessionOptions {
  /**
   * Sealing secrets, newest first, each at least 32 bytes. The first seals new cookies,
   * the others only unseal cookies sealed before a rotation. The app passes
   * `[session_secret, ...session_previous_secrets]`.
   */
  secrets: string[]
  /** Cookie name, without prefix. Default `session`. */
  cookieName?: string
  /** Adds the `Secure` attribute. Default false. The app turns it on in production. */
  secure?: boolean
  /**
   * Prefixes the cookie name with `__Host-`, so browsers accept the cookie only with
   * `Secure`, `Path=/` and no `Domain`, which keeps sibling subdomains from setting it.
   * Requires `secure`. Default false. The app turns it on in production.
   */
  hostPrefix?: boolean
  /** Absolute lifetime in seconds, from the start of the session. Default 1209600 (14 days). */
  maxAge?: number
  /**
   * Idle timeout in seconds, from the last request that refreshed the cookie.
   * Default 7200 (2 hours).
   *
   * To avoid sealing the cookie again on every request, the last-seen time is refreshed
   * only when it is older than 60 seconds or a tenth of the idle timeout, whichever is
   * smaller. A session can therefore expire up to that much earlier than the timeout.
   */
  idleTimeout?: number
  /** Clock in milliseconds since the Unix epoch. Default `Date.now`. Tests inject their own. */
  now?: () => number
}

/** Options with defaults applied and the derived values the handler needs. */
export interface ResolvedSessionOptions {
  /** Name the cookie is sent under, prefix included. */
  cookieName: string
  secure: boolean
  maxAge: number
  idleTimeout: number
  /** Age of the last-seen time, in seconds, from which the cookie is sealed again. */
  refreshInterval: number
  now: () => number
}

export const DEFAULT_COOKIE_NAME = 'session'
export const DEFAULT_MAX_AGE = 1_209_600
export const DEFAULT_IDLE_TIMEOUT = 7_200
const MAX_REFRESH_INTERVAL = 60

/**
 * Applies the defaults and checks the options.
 *
 * @throws InvalidSettingsError for an invalid cookie name, a non-positive or fractional
 *   lifetime, or `hostPrefix` without `secure`.
 */
export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  const name = options.cookieName ?? DEFAULT_COOKIE_NAME
  if (!isValidCookieName(name)) {
    throw new InvalidSettingsError(
      `session_cookie (cookieName) "${name}" is not a valid cookie name: ` +
        'use letters, digits, "-", "_" or "."',
    )
  }

  const secure = options.secure ?? false
  const hostPrefix = options.hostPrefix ?? false
  // Browsers drop a __Host- cookie that lacks Secure, so every session would be lost.
  if (hostPrefix && !secure) {
    throw new InvalidSettingsError(
      'The session cookie has the __Host- prefix but not the Secure attribute: ' +
        'set secure: true (HTTPS) or turn hostPrefix off',
    )
  }

  const maxAge = checkSeconds('session_max_age (maxAge)', options.maxAge ?? DEFAULT_MAX_AGE)
  const idleTimeout = checkSeconds(
    'session_idle_timeout (idleTimeout)',
    options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
  )

  return {
    cookieName: hostPrefix ? `__Host-${name}` : name,
    secure,
    maxAge,
    idleTimeout,
    refreshInterval: Math.min(MAX_REFRESH_INTERVAL, idleTimeout / 10),
    now: options.now ?? Date.now,
  }
}

function checkSeconds(setting: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidSettingsError(
      `${setting} is ${String(value)}: use a whole number of seconds greater than 0`,
    )
  }
  return value
}
