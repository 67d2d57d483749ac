/**
 * Session layer: the session travels in a cookie sealed with authenticated encryption
 * (compact JWE, `dir` + `A256GCM`), keyed from the configured secrets. Expiry is checked
 * on the server from the times inside the seal, and the cookie is sealed again only when
 * the response needs a new one.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Logger } from 'pino'
import type { FastBlocksEnv } from '../app/env.ts'
import { SessionTooLargeError } from '../errors/index.ts'
import { keepFromSharedCaches } from '../request-context/cache-control.ts'
import { mutableHeaders } from '../request-context/mutable-headers.ts'
import { requestHeader } from '../request-context/node-request.ts'
import { parseCookieHeader, serializeCookie } from './cookie.ts'
import { CookieSession } from './cookie-session.ts'
import { deriveKeyring, type Keyring } from './keyring.ts'
import {
  resolveSessionOptions,
  type ResolvedSessionOptions,
  type SessionOptions,
} from './options.ts'
import { sealSession, unsealSession, type SessionPayload, type UnsealFailure } from './seal.ts'
import type { FlashMessage, Session } from './types.ts'

export { parseCookieHeader, serializeCookie, type CookieAttributes } from './cookie.ts'
export { CookieSession, CSRF_SEED_KEY, FLASH_KEY } from './cookie-session.ts'
export {
  createKeyring,
  deriveKeyring,
  validateSecrets,
  MIN_SECRET_BYTES,
  type Keyring,
  type SessionKey,
} from './keyring.ts'
export {
  resolveSessionOptions,
  DEFAULT_COOKIE_NAME,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_AGE,
  type ResolvedSessionOptions,
  type SessionOptions,
} from './options.ts'
export {
  sealSession,
  unsealSession,
  MAX_SEALED_LENGTH,
  type SessionPayload,
  type UnsealFailure,
  type UnsealResult,
} from './seal.ts'
export type { FlashMessage, Session } from './types.ts'

/**
 * Maximum size of the session Set-Cookie value (name, value and attributes), in bytes.
 * RFC 6265 section 6.1 recommends that browsers store at least 4096 bytes per cookie,
 * counted the same way.
 */
export const MAX_COOKIE_BYTES = 4096

/** Reason the request's session cookie was not used. */
export type SessionRejection = UnsealFailure | 'expired_idle' | 'expired_max_age'

type LoadedCookie =
  | { state: 'absent' }
  | { state: 'rejected'; reason: SessionRejection }
  | {
      state: 'valid'
      payload: SessionPayload
      /** True when an older key sealed the cookie or its last-seen time is due for a refresh. */
      needsReseal: boolean
    }

/**
 * Cookie sessions sealed with authenticated encryption. Sets `c.var.session`.
 *
 * Reading: the session cookie is unsealed with the keyring key named by its `kid`. A
 * missing, invalid, foreign-key or expired cookie gives a new empty session, and an
 * invalid or expired one is also deleted and logged. Only the first cookie of the name
 * counts, because browsers send the most specific cookie first.
 *
 * Writing, after the handler: the cookie is sealed again only when the session changed,
 * was sealed with an older key, or its last-seen time needs a refresh. An empty session
 * sets no cookie, and deletes the one the browser sent.
 *
 * Defaults: cookie `session`, no `Secure`, no `__Host-` prefix, absolute lifetime 14 days,
 * idle timeout 2 hours. Attributes are always `HttpOnly`, `SameSite=Lax`, `Path=/`.
 *
 * Secrets are checked and keys derived once, when the factory runs.
 *
 * NOTE: deleting the cookie does not revoke copies of it. A copy taken before `clear()`
 * stays valid until its idle or absolute expiry, so logout and password changes need a
 * server-side check as well, such as a per-user session epoch in the authentication layer.
 *
 * @throws WeakSecretError or InvalidSettingsError at set-up for bad options.
 * @throws SessionTooLargeError from the request, after the handler, when the sealed cookie
 *   would exceed 4096 bytes.
 *
 * @example
 * ```ts
 * app.use(session({ secrets: [process.env.SESSION_SECRET!] }))
 * ```
 *
 * @example Production, with a previous secret still accepted during rotation
 * ```ts
 * app.use(
 *   session({
 *     secrets: [app.session_secret, ...app.session_previous_secrets],
 *     cookieName: app.session_cookie,
 *     secure: true,
 *     hostPrefix: true,
 *     maxAge: app.session_max_age,
 *     idleTimeout: app.session_idle_timeout,
 *   }),
 * )
 * ```
 */
export function session(options: SessionOptions): MiddlewareHandler<FastBlocksEnv> {
  const config = resolveSessionOptions(options)
  const keyring = deriveKeyring(options.secrets)

  return async function sessionMiddleware(c, next) {
    const nowSeconds = Math.floor(config.now() / 1000)
    const cookieHeader = requestHeader(c, 'cookie')

    // The cookie is unsealed on the first use of the session, so a request that never
    // reads it (a static file, a health check) costs no decryption and never sets a cookie.
    let loaded: LoadedCookie | undefined
    let current: CookieSession | undefined
    const load = (): CookieSession => {
      if (current !== undefined) return current
      loaded = loadCookie(cookieHeader, keyring, nowSeconds, config)
      if (loaded.state === 'rejected') logRejection(c, loaded.reason)
      current = new CookieSession(loaded.state === 'valid' ? loaded.payload : undefined, nowSeconds)
      return current
    }
    c.set('session', new LazySession(load))

    await next()

    if (current === undefined || loaded === undefined) return
    const setCookie = commitSession(current, loaded, keyring, nowSeconds, config)
    if (setCookie === undefined) return
    const headers = mutableHeaders(c)
    headers.append('Set-Cookie', setCookie)

    // A response that sets a session cookie belongs to one visitor: a shared cache that
    // stored it would hand the cookie to the next one.
    keepFromSharedCaches(headers)
  }
}

/** The request's session, unsealed on first use. */
class LazySession implements Session {
  readonly #load: () => CookieSession

  constructor(load: () => CookieSession) {
    this.#load = load
  }

  get isNew(): boolean {
    return this.#load().isNew
  }

  get isModified(): boolean {
    return this.#load().isModified
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#load().get<T>(key)
  }

  set(key: string, value: unknown): void {
    this.#load().set(key, value)
  }

  delete(key: string): void {
    this.#load().delete(key)
  }

  has(key: string): boolean {
    return this.#load().has(key)
  }

  clear(): void {
    this.#load().clear()
  }

  regenerate(): void {
    this.#load().regenerate()
  }

  flash(type: string, text: string): void {
    this.#load().flash(type, text)
  }

  consumeFlash(): FlashMessage[] {
    return this.#load().consumeFlash()
  }
}

function loadCookie(
  header: string | undefined,
  keyring: Keyring,
  nowSeconds: number,
  config: ResolvedSessionOptions,
): LoadedCookie {
  if (header === undefined) return { state: 'absent' }
  const sealed = parseCookieHeader(header, config.cookieName)[config.cookieName]
  if (sealed === undefined) return { state: 'absent' }

  const result = unsealSession(sealed, keyring)
  if (!result.ok) return { state: 'rejected', reason: result.reason }

  const { payload } = result
  // Expiry is decided here from the sealed times, because a client can keep a cookie
  // past its Max-Age.
  if (nowSeconds - payload.createdAt >= config.maxAge) {
    return { state: 'rejected', reason: 'expired_max_age' }
  }
  if (nowSeconds - payload.lastSeenAt >= config.idleTimeout) {
    return { state: 'rejected', reason: 'expired_idle' }
  }

  const needsRefresh = nowSeconds - payload.lastSeenAt >= config.refreshInterval
  return { state: 'valid', payload, needsReseal: result.rotated || needsRefresh }
}

/** Returns the Set-Cookie value the response needs, or undefined when the cookie stays as is. */
function commitSession(
  current: CookieSession,
  loaded: LoadedCookie,
  keyring: Keyring,
  nowSeconds: number,
  config: ResolvedSessionOptions,
): string | undefined {
  const attributes = { secure: config.secure }

  if (current.size === 0) {
    // An empty session needs no cookie. Only a cookie the browser sent is deleted: a
    // rejected one, or a valid one whose values were all removed.
    const deleteCookie =
      loaded.state === 'rejected' ||
      (loaded.state === 'valid' && (current.isModified || loaded.needsReseal))
    return deleteCookie ? serializeCookie(config.cookieName, '', 0, attributes) : undefined
  }

  const needsReseal = loaded.state === 'valid' && loaded.needsReseal
  if (!current.isModified && !needsReseal) return undefined

  const sealed = sealSession(current.toPayload(nowSeconds), keyring)

  // The browser drops the cookie when the server would reject it anyway: at the idle
  // timeout from now, or at the end of the absolute lifetime if that comes first.
  const remainingLifetime = current.createdAt + config.maxAge - nowSeconds
  const maxAge = Math.min(config.idleTimeout, remainingLifetime)
  const setCookie = serializeCookie(config.cookieName, sealed, maxAge, attributes)

  // A browser may drop a larger cookie without notice, which would log the user out with
  // no trace, so the error is raised here instead.
  // The header is ASCII only, so its length is its size in bytes.
  if (setCookie.length > MAX_COOKIE_BYTES) {
    throw new SessionTooLargeError(setCookie.length, MAX_COOKIE_BYTES)
  }
  return setCookie
}

function logRejection(c: Context<FastBlocksEnv>, reason: SessionRejection): void {
  // The request-context layer sets a logger bound to the request id. Without that layer
  // (a bare app in a test or a tool) the rejection is not logged.
  const logger = c.get('logger') as Logger | undefined
  if (logger === undefined) return

  const expired = reason === 'expired_idle' || reason === 'expired_max_age'
  const fields = { layer: 'session', reason }
  if (expired) logger.info(fields, 'Session cookie expired, starting a new session')
  else logger.warn(fields, 'Session cookie rejected, starting a new session')
}
