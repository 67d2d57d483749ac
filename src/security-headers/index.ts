import type { Context, MiddlewareHandler } from 'hono'
import { mutableHeaders } from '../request-context/mutable-headers.ts'
import { ResponseHeaders } from '../request-context/response-headers.ts'
import { pino, type Logger } from 'pino'
import type { FastBlocksEnv } from '../app/env.ts'
import { InvalidSettingsError } from '../errors/index.ts'
import {
  isNotModified,
  notModifiedResponse,
  takePreconditions,
  type Preconditions,
} from './conditional.ts'
import { compileCsp, type CspSources } from './csp.ts'
import { createNonce } from './nonce.ts'

export { createNonce, NONCE_BYTES } from './nonce.ts'
export type { CspSources } from './csp.ts'

export interface SecurityHeadersOptions {
  /**
   * Send `Strict-Transport-Security`. Default false, and the app turns it on in production.
   * This option alone decides. The request's scheme is not consulted, because behind a
   * TLS-terminating proxy the app receives plain HTTP.
   */
  hsts?: boolean
  /** HSTS `max-age` in seconds. Default 31536000 (one year). */
  hstsMaxAge?: number
  /**
   * Extra CSP sources per directive, merged into the default policy, such as
   * `{ 'img-src': ['https://cdn.example'] }`. Default none.
   */
  csp?: CspSources
  /**
   * Accept `'unsafe-inline'`, `'unsafe-eval'` and `'unsafe-hashes'` in script and style
   * directives, with a warning at start-up. Default false: they raise InvalidSettingsError.
   */
  allowUnsafe?: boolean
  /** Logger for the start-up warning about unsafe sources. Default a new pino logger. */
  logger?: Logger
}

const PERMISSIONS_POLICY = [
  'accelerometer',
  'camera',
  'display-capture',
  'geolocation',
  'gyroscope',
  'hid',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'serial',
  'usb',
  'xr-spatial-tracking',
]
  .map((feature) => `${feature}=()`)
  .join(', ')

const BASE64_NONCE = /^[A-Za-z0-9+/_-]+={0,2}$/
const HTML_CONTENT_TYPE = /^\s*(?:text\/html|application\/xhtml\+xml)\s*(?:;|$)/i

/**
 * The security headers of every response, validated and assembled once. Pass the same
 * instance to `securityHeaders()` and to the error boundary, so that responses made outside
 * the middleware get the same headers.
 */
export class SecurityHeaderPolicy {
  readonly #cspParts: string[]
  readonly #cspWithoutNonce: string
  readonly #headers: ReadonlyArray<readonly [string, string]>
  /** `#headers` with lower-case names, as `ResponseHeaders.setValidated` takes them. */
  readonly #validatedHeaders: ReadonlyArray<readonly [string, string]>
  // Header objects this policy set in full. A response replaced afterwards, by an error page
  // for instance, has a new Headers object and so is checked again.
  readonly #applied = new WeakSet<Headers>()

  /** Throws InvalidSettingsError for an invalid CSP source or HSTS max-age. */
  constructor(options: SecurityHeadersOptions = {}) {
    const csp = compileCsp(options.csp ?? {}, options.allowUnsafe === true)
    this.#cspParts = csp.parts
    this.#cspWithoutNonce = csp.withoutNonce
    if (csp.unsafeSources.length > 0) {
      const logger = options.logger ?? pino()
      logger.warn(
        { layer: 'security-headers', unsafeSources: csp.unsafeSources },
        'CSP allows unsafe sources because allowUnsafe is set: injected markup can run script',
      )
    }

    const headers: Array<[string, string]> = [
      ['X-Content-Type-Options', 'nosniff'],
      ['X-Frame-Options', 'DENY'],
      ['Referrer-Policy', 'strict-origin-when-cross-origin'],
      ['Cross-Origin-Opener-Policy', 'same-origin'],
      ['Cross-Origin-Resource-Policy', 'same-origin'],
      ['Permissions-Policy', PERMISSIONS_POLICY],
      // 0 turns off the XSS auditor of old browsers, which attackers used to remove page parts.
      ['X-XSS-Protection', '0'],
    ]
    if (options.hsts === true) {
      const maxAge = options.hstsMaxAge ?? 31_536_000
      if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
        throw new InvalidSettingsError(
          `Invalid setting middleware.hsts_max_age: ${maxAge} is not a whole number of seconds >= 0`,
        )
      }
      headers.push(['Strict-Transport-Security', `max-age=${maxAge}; includeSubDomains`])
    }
    this.#headers = headers
    // Checked once through the runtime's Headers, so that ResponseHeaders can skip the check.
    const validated = new Headers(headers)
    this.#validatedHeaders = [...validated].filter(([name]) => name !== 'set-cookie')
  }

  /** Returns the Content-Security-Policy value for a nonce, or the nonce-less policy. */
  contentSecurityPolicy(nonce?: string): string {
    if (nonce === undefined) return this.#cspWithoutNonce
    // A nonce with other characters could close the source list and add a directive.
    if (!BASE64_NONCE.test(nonce)) throw new TypeError('CSP nonce must be base64')
    return this.#cspParts.join(nonce)
  }

  /**
   * Sets every security header on `headers`, replacing values already there, and removes
   * `Server` and `X-Powered-By`. With a nonce, an HTML response also gets
   * `Cache-Control: no-store` and loses its `ETag` and `Last-Modified`: a cached or
   * revalidated page would carry an old nonce that no longer matches the header.
   */
  apply(headers: Headers, nonce?: string): void {
    if (headers instanceof ResponseHeaders) {
      for (const [name, value] of this.#validatedHeaders) headers.setValidated(name, value)
      // The policy's parts were checked at set-up and the nonce is checked as base64.
      headers.setValidated('content-security-policy', this.contentSecurityPolicy(nonce))
    } else {
      for (const [name, value] of this.#headers) headers.set(name, value)
      headers.set('Content-Security-Policy', this.contentSecurityPolicy(nonce))
    }
    headers.delete('Server')
    headers.delete('X-Powered-By')
    if (nonce !== undefined && isHtml(headers)) preventCaching(headers)
    this.#applied.add(headers)
  }

  /**
   * Sets each security header that `headers` lacks, and removes `Server` and
   * `X-Powered-By`. The CSP is set only when missing: with `nonce`, the nonce policy (and an
   * HTML response loses its validators as in `apply`), else the nonce-less one. It suits a
   * response that may or may not have passed through `securityHeaders()`, because it keeps
   * the nonce policy that the middleware set.
   */
  ensure(headers: Headers, nonce?: string): void {
    // Headers this policy applied are complete: checking them one by one again would cost
    // as much as setting them.
    if (this.#applied.has(headers)) return
    for (const [name, value] of this.#headers) if (!headers.has(name)) headers.set(name, value)
    if (!headers.has('Content-Security-Policy')) {
      headers.set('Content-Security-Policy', this.contentSecurityPolicy(nonce))
      if (nonce !== undefined && isHtml(headers)) preventCaching(headers)
    }
    headers.delete('Server')
    headers.delete('X-Powered-By')
  }
}

const DEFAULT_POLICY = new SecurityHeaderPolicy()

function isHtml(headers: Headers): boolean {
  return HTML_CONTENT_TYPE.test(headers.get('Content-Type') ?? '')
}

/**
 * Makes a nonce-bearing page uncacheable and removes its validators, so that a conditional
 * request (If-None-Match, If-Modified-Since) gets a whole new page and never a 304.
 */
function preventCaching(headers: Headers): void {
  const cacheControl = headers.get('Cache-Control') ?? ''
  // A handler's own no-store is kept with its other directives. Anything else is replaced.
  if (!/(?:^|,)\s*no-store\s*(?:,|$)/i.test(cacheControl)) headers.set('Cache-Control', 'no-store')
  headers.delete('ETag')
  headers.delete('Last-Modified')
}

/**
 * Replaces the response with a 304 when it is not HTML and the request's preconditions show
 * that the client's copy is current. HTML responses carry a nonce and are always sent in full.
 */
function evaluatePreconditions(c: Context, preconditions: Preconditions): void {
  const response = c.res
  const method = c.req.method
  const eligible = (method === 'GET' || method === 'HEAD') && response.status === 200
  if (!eligible || isHtml(response.headers) || !isNotModified(response, preconditions)) return

  // Clearing c.res first stops Hono from copying the old body headers onto the 304.
  c.res = undefined
  c.res = notModifiedResponse(response)
}

/**
 * Pipeline layer 3: security headers and the CSP nonce.
 *
 * Sets `c.var.cspNonce` to a fresh nonce (128 random bits, base64) before the inner layers
 * run, and after them sets on the response:
 *
 * - `Content-Security-Policy`: `default-src 'self'; script-src 'self' 'nonce-…';
 *   style-src 'self' 'nonce-…'; img-src 'self' data:; object-src 'none'; base-uri 'none';
 *   form-action 'self'; frame-ancestors 'none'`, plus the `csp` option's sources. There is no
 *   `'unsafe-inline'` or `'unsafe-eval'`, so every inline `<script>` and `<style>` needs the
 *   nonce, and inline event handlers (`onclick`, htmx 2's `hx-on`) do not run.
 *   connect-src, font-src and the other fetch directives fall back to `default-src 'self'`.
 * - `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
 *   `Referrer-Policy: strict-origin-when-cross-origin`, `Cross-Origin-Opener-Policy:
 *   same-origin`, `Cross-Origin-Resource-Policy: same-origin`, a `Permissions-Policy` that
 *   denies camera, microphone, geolocation, payment, USB and other device features, and
 *   `X-XSS-Protection: 0`.
 * - `Strict-Transport-Security: max-age=…; includeSubDomains` when `hsts` is on.
 *
 * It removes `Server` and `X-Powered-By`. HTML responses get `Cache-Control: no-store` and
 * lose `ETag` and `Last-Modified`, because their body carries the nonce. Headers a handler
 * set under the same names are replaced.
 *
 * This layer owns conditional GET: it removes `If-None-Match` and `If-Modified-Since` before
 * the inner layers run, so they always produce a whole response, and returns 304 itself only
 * for responses that are not HTML. A 304 for a page would pair a new nonce with an old body.
 *
 * Options (or a `SecurityHeaderPolicy` built from them): `hsts` (default false),
 * `hstsMaxAge` (default 31536000), `csp` (default none), `allowUnsafe` (default false).
 * Throws InvalidSettingsError at set-up for an invalid CSP source.
 *
 * @example
 * ```ts
 * app.use(securityHeaders())
 * app.get('/', (c) => c.html(`<script nonce="${c.var.cspNonce}">start()</script>`))
 * ```
 *
 * @example
 * ```ts
 * // One policy for the middleware and the error boundary, with HSTS in production.
 * const policy = new SecurityHeaderPolicy({
 *   hsts: settings.env === 'production',
 *   hstsMaxAge: settings.middleware.hsts_max_age,
 *   csp: { 'img-src': ['https://cdn.example'] },
 * })
 * const ensureSecurityHeaders = (headers: Headers) => policy.ensure(headers)
 * app.use(requestContext({ ...contextOptions, ensureSecurityHeaders }))
 * app.use(securityHeaders(policy))
 * ```
 */
export function securityHeaders(
  options: SecurityHeadersOptions | SecurityHeaderPolicy = {},
): MiddlewareHandler<FastBlocksEnv> {
  const policy =
    options instanceof SecurityHeaderPolicy ? options : new SecurityHeaderPolicy(options)

  return async function securityHeaders(c, next) {
    const nonce = createNonce()
    c.set('cspNonce', nonce)
    const preconditions = takePreconditions(c)
    await next()
    if (preconditions !== undefined) evaluatePreconditions(c, preconditions)
    policy.apply(mutableHeaders(c), nonce)
  }
}

export interface ApplySecurityHeadersOptions {
  /** Policy to apply. Default the default policy, which has no HSTS. */
  policy?: SecurityHeaderPolicy
  /** Nonce for the CSP. Default none: the nonce-less policy. */
  nonce?: string
}

/**
 * Sets the security headers that `headers` lacks, as `SecurityHeaderPolicy.ensure` does. For
 * the error boundary, which handles responses made outside `securityHeaders()` (a 413 of the
 * limits layer, an error raised before layer 3) as well as responses that passed through it.
 * Pass the policy given to `securityHeaders()` so that HSTS and extra CSP sources match.
 *
 * @example
 * ```ts
 * requestContext({ ...options, ensureSecurityHeaders: (h) => applySecurityHeaders(h, { policy }) })
 * ```
 */
export function applySecurityHeaders(
  headers: Headers,
  options: ApplySecurityHeadersOptions = {},
): void {
  const policy = options.policy ?? DEFAULT_POLICY
  policy.ensure(headers, options.nonce)
}
