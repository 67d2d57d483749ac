import type { Context, MiddlewareHandler } from 'hono'
import { keepFromSharedCaches } from '../request-context/cache-control.ts'
import { mutableHeaders } from '../request-context/mutable-headers.ts'
import type { Logger } from 'pino'
import type { FastBlocksEnv } from '../app/env.ts'
import {
  BadRequestError,
  CsrfOriginError,
  CsrfTokenError,
  FastBlocksError,
  InvalidSettingsError,
  WeakSecretError,
} from '../errors/index.ts'
import { checkSource, originOf, parseTrustedOrigins } from './origin.ts'
import { CsrfTokens, createTokenKey } from './token.ts'

export { SEED_KEY, MASKED_TOKEN_LENGTH } from './token.ts'

export interface CsrfOptions {
  /** HMAC key of the tokens (`csrf_secret`), at least 32 bytes. */
  secret: string
  /**
   * Origins besides `c.var.appOrigin` that may send unsafe requests, such as
   * `https://admin.app.example`. Each must be an http(s) origin with no path. Default none.
   */
  trustedOrigins?: string[]
  /** Logger for the start-up lines, such as the warning for each exemption. */
  logger: Logger
  /** Form field read for the token. Default `csrf_token`. */
  formField?: string
  /** Request and response header of the token. Default `X-CSRF-Token`. */
  headerName?: string
}

export interface CsrfProtection {
  /** Pipeline layer 6. It needs `c.var.session`, `c.var.appOrigin` and `c.var.logger`. */
  middleware: MiddlewareHandler<FastBlocksEnv>
  /**
   * Turns off every CSRF check, the Sec-Fetch-Site and Origin checks included, for one exact
   * method and path, such as a webhook that other origins call. The path is compared with
   * `c.req.path` as is, so `/webhooks/x/` or `/Webhooks/x` stay protected. Logs a warning
   * with the reason at once, so every exemption shows at start-up.
   */
  exempt(method: string, path: string, reason: string): void
}

/** Methods that must not change state, so they pass without checks. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Body types a browser form can send, and the only ones read for the form field. */
const FORM_MEDIA_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data'])

const MIN_SECRET_BYTES = 32

/**
 * Creates the CSRF layer: for every method but GET, HEAD, OPTIONS and TRACE it checks,
 * whatever the Content-Type, that
 *
 * 1. `Sec-Fetch-Site` is not `cross-site`;
 * 2. `Origin` (or, without it, the origin of `Referer`) is `c.var.appOrigin` or a trusted
 *    origin, and a request with neither header is rejected;
 * 3. the request carries a valid token bound to the session, in the `X-CSRF-Token` header
 *    or, for form bodies, the `csrf_token` field. A present header decides alone.
 *
 * Failures raise CsrfOriginError or CsrfTokenError (403) and are logged once with the reason.
 *
 * `c.var.csrfToken()` returns a fresh masked token; templates put it in forms and in
 * `<meta name="csrf-token">`. The response carries a fresh token in `X-CSRF-Token` for
 * htmx requests and for HTML responses of sessions that already have tokens, so the client
 * script can replace a token that a session regeneration made stale. Such a response gets
 * `Cache-Control: private` unless it already has a Cache-Control header.
 *
 * Raises WeakSecretError for a secret under 32 bytes and InvalidSettingsError for a trusted
 * origin that is not an http(s) origin.
 *
 * @example
 * ```ts
 * const csrf = csrfProtection({ secret: settings.app.csrf_secret, logger })
 * app.use(csrf.middleware)
 * ```
 *
 * @example
 * ```ts
 * const csrf = csrfProtection({
 *   secret: settings.app.csrf_secret,
 *   trustedOrigins: ['https://admin.app.example'],
 *   logger,
 * })
 * csrf.exempt('POST', '/webhooks/billing', 'signed by the payment provider')
 * ```
 */
export function csrfProtection(options: CsrfOptions): CsrfProtection {
  if (Buffer.byteLength(options.secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new WeakSecretError(
      'csrf_secret',
      `csrf_secret must be at least ${MIN_SECRET_BYTES} bytes. Generate one with ` +
        '`npx fastblocks secret`',
    )
  }
  const key = createTokenKey(options.secret)
  const trustedOrigins = parseTrustedOrigins(options.trustedOrigins ?? [])
  const formField = options.formField ?? 'csrf_token'
  const headerName = options.headerName ?? 'X-CSRF-Token'
  const exemptions = new Set<string>()

  const readSubmittedToken = async (c: Context<FastBlocksEnv>): Promise<string | undefined> => {
    // The header costs nothing to read, and the client script sends it with every htmx request.
    const header = c.req.header(headerName)
    if (header !== undefined) return header

    // Only form bodies may carry the field. Any other body is never parsed here, so a
    // text/plain body cannot pass as JSON or as a form.
    const mediaType = c.req.header('Content-Type')?.split(';')[0]?.trim().toLowerCase()
    if (mediaType === undefined || !FORM_MEDIA_TYPES.has(mediaType)) return undefined

    let body: Record<string, unknown>
    try {
      body = await c.req.parseBody({ all: true })
    } catch (error) {
      reject(c, 'malformed form body', new BadRequestError('Malformed form body', { cause: error }))
    }
    // A repeated field (an array) or a file is not a token. The body object has a null
    // prototype and formField comes from the set-up options, so the lookup is safe.
    // eslint-disable-next-line security/detect-object-injection
    const field = body[formField]
    return typeof field === 'string' ? field : undefined
  }

  const verify = async (c: Context<FastBlocksEnv>, tokens: CsrfTokens): Promise<void> => {
    const appOrigin = originOf(c.get('appOrigin'))
    const sourceFailure = checkSource(
      {
        secFetchSite: c.req.header('Sec-Fetch-Site'),
        origin: c.req.header('Origin'),
        referer: c.req.header('Referer'),
      },
      (origin) => origin === appOrigin || trustedOrigins.has(origin),
    )
    if (sourceFailure !== undefined) reject(c, sourceFailure, new CsrfOriginError())

    // An htmx client whose token went stale gets a fresh one with the 403, so its next
    // request can pass. Only a session that already has a seed gets one, because a seed
    // created here is lost if the session layer does not save a session after an error.
    const recovery = (): Record<string, string> =>
      c.req.header('HX-Request') === 'true' && tokens.hasSeed()
        ? { [headerName]: tokens.issue() }
        : {}

    const submitted = await readSubmittedToken(c)
    if (submitted === undefined) {
      reject(c, 'missing token', new CsrfTokenError(undefined, { headers: recovery() }))
    }
    const tokenFailure = tokens.verify(submitted)
    if (tokenFailure !== undefined) {
      reject(c, tokenFailure, new CsrfTokenError(undefined, { headers: recovery() }))
    }
  }

  const middleware: MiddlewareHandler<FastBlocksEnv> = async (c, next) => {
    const session = c.get('session')
    if (session === undefined) {
      throw new Error('The CSRF layer needs c.var.session: install the session layer before it')
    }
    const tokens = new CsrfTokens(key, session)
    c.set('csrfToken', () => tokens.issue())

    const method = c.req.method
    if (SAFE_METHODS.has(method)) {
      // Safe methods must not change state, so they need no proof of origin.
    } else if (exemptions.has(exemptionKey(method, c.req.path))) {
      // Exempt routes were listed with a reason at start-up.
    } else {
      await verify(c, tokens)
    }

    await next()

    // An htmx response carries the token when the session has a seed or was changed by the
    // request, so that a regenerated session hands htmx its new token. Any other response
    // carries it only when it is HTML of a seeded session. A request that never touched the
    // session, such as one for a style sheet, creates no seed and so no session.
    const isHtml = c.res.headers.get('Content-Type')?.toLowerCase().startsWith('text/html') ?? false
    const carriesToken =
      c.req.header('HX-Request') === 'true'
        ? tokens.hasSeed() || session.isModified
        : isHtml && tokens.hasSeed()
    if (carriesToken) {
      const headers = mutableHeaders(c)
      headers.set(headerName, tokens.issue())
      // The token belongs to one session, so no shared cache may keep this response.
      keepFromSharedCaches(headers)
    }
  }

  const exempt = (method: string, path: string, reason: string): void => {
    const upperMethod = method.toUpperCase()
    if (SAFE_METHODS.has(upperMethod)) {
      throw new InvalidSettingsError(
        `CSRF exemption for ${upperMethod} ${path} has no effect: ${upperMethod} is never checked`,
      )
    }
    if (!path.startsWith('/')) {
      throw new InvalidSettingsError(
        `CSRF exemption path "${path}" must be an absolute path such as /webhooks/billing`,
      )
    }
    if (reason.trim() === '') {
      throw new InvalidSettingsError(`CSRF exemption for ${upperMethod} ${path} needs a reason`)
    }
    exemptions.add(exemptionKey(upperMethod, path))
    options.logger.warn(
      { layer: 'csrf', method: upperMethod, path, reason },
      `CSRF protection disabled for ${upperMethod} ${path}: ${reason}`,
    )
  }

  return { middleware, exempt }
}

function exemptionKey(method: string, path: string): string {
  return `${method} ${path}`
}

/**
 * Raises the error with the reason for its log line. The error boundary logs it once, and
 * never the token.
 */
function reject(c: Context<FastBlocksEnv>, reason: string, error: FastBlocksError): never {
  Object.assign(error.details, { layer: 'csrf', reason, method: c.req.method, path: c.req.path })
  throw error
}
