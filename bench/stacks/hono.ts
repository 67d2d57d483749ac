/**
 * Hono 4 on @hono/node-server with secure-headers (helmet's default CSP directives plus a script
 * nonce), the csrf middleware (Origin and Sec-Fetch-Site check), a session-bound CSRF token,
 * a cookie session encrypted with jose (JWE, `dir` + A256GCM) and Nunjucks.
 *
 * Hono ships no session and no CSRF token middleware, so both are written here in the smallest
 * form that does the same work as the peers. The session decrypts and validates the cookie on
 * each request and encrypts it again when it changed. The token check compares the submitted
 * token with the session's in constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { Hono, type MiddlewareHandler } from 'hono'
import { serve } from '@hono/node-server'
import { secureHeaders, NONCE } from 'hono/secure-headers'
import { csrf } from 'hono/csrf'
import { bodyLimit } from 'hono/body-limit'
import { getCookie, setCookie } from 'hono/cookie'
import { EncryptJWT, jwtDecrypt } from 'jose'
import nunjucks from 'nunjucks'
import {
  announcePort,
  csrfHiddenInput,
  items,
  nextVisitCount,
  noteKey,
  nunjucksOptions,
  pageTitle,
  readNote,
  readSecret,
  templatesDir,
  visitsKey,
} from './workload.ts'

const sessionMaxAgeSeconds = 14 * 24 * 60 * 60
const sessionCookieName = 'session'
const csrfFieldName = '_csrf'
const csrfSessionKey = '_csrf'

/** Session values of one request. When `modified` is true the middleware encrypts a new cookie. */
class CookieSession {
  modified = false
  readonly #data: Record<string, unknown>

  constructor(data: Record<string, unknown>) {
    this.#data = data
  }

  get(key: string): unknown {
    return this.#data[key]
  }

  set(key: string, value: unknown): void {
    this.#data[key] = value
    this.modified = true
  }

  toJSON(): Record<string, unknown> {
    return this.#data
  }
}

interface BenchEnv {
  Variables: { session: CookieSession; secureHeadersNonce?: string }
}

const sessionKey = Buffer.from(readSecret('BENCH_SESSION_SECRET').slice(0, 64), 'hex')

/** Decrypts the session cookie (an invalid or expired one starts an empty session). */
async function openSession(sealed: string | undefined): Promise<Record<string, unknown>> {
  if (sealed === undefined) {
    return {}
  }
  try {
    const { payload } = await jwtDecrypt(sealed, sessionKey)
    const data = payload.data
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

const cookieSession: MiddlewareHandler<BenchEnv> = async (c, next) => {
  const session = new CookieSession(await openSession(getCookie(c, sessionCookieName, 'host')))
  c.set('session', session)
  await next()

  if (session.modified) {
    const sealed = await new EncryptJWT({ data: session.toJSON() })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(`${sessionMaxAgeSeconds}s`)
      .encrypt(sessionKey)
    setCookie(c, sessionCookieName, sealed, {
      prefix: 'host',
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
      maxAge: sessionMaxAgeSeconds,
    })
  }
}

/** Returns the session's CSRF token, creating one on first use. */
function sessionCsrfToken(session: CookieSession): string {
  const existing = session.get(csrfSessionKey)
  if (typeof existing === 'string') {
    return existing
  }
  const token = randomBytes(32).toString('base64url')
  session.set(csrfSessionKey, token)
  return token
}

function tokensMatch(submitted: string, expected: string): boolean {
  const submittedBytes = Buffer.from(submitted)
  const expectedBytes = Buffer.from(expected)
  return (
    submittedBytes.length === expectedBytes.length && timingSafeEqual(submittedBytes, expectedBytes)
  )
}

const csrfTokenCheck: MiddlewareHandler<BenchEnv> = async (c, next) => {
  const form = await c.req.parseBody()
  const submitted = form[csrfFieldName]
  const expected = c.get('session').get(csrfSessionKey)
  // Missing token, missing session token or a mismatch: reject before the handler runs.
  if (typeof submitted !== 'string' || typeof expected !== 'string') {
    return c.text('Invalid CSRF token', 403)
  }
  if (!tokensMatch(submitted, expected)) {
    return c.text('Invalid CSRF token', 403)
  }
  await next()
}

const templates = nunjucks.configure(templatesDir, nunjucksOptions)

const app = new Hono<BenchEnv>()

// Middleware is attached to /page and /submit only, so /plain runs none.
app.get('/plain', (c) => c.text('ok'))

const securityHeaders = secureHeaders({
  // The directives helmet 8 sends by default, with the nonce added to script-src.
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    fontSrc: ["'self'", 'https:', 'data:'],
    formAction: ["'self'"],
    frameAncestors: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'", NONCE],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'", 'https:', "'unsafe-inline'"],
    upgradeInsecureRequests: [],
  },
})

for (const path of ['/page', '/submit']) {
  app.use(path, securityHeaders, cookieSession)
}
app.use('/submit', bodyLimit({ maxSize: 1024 * 1024 }), csrf(), csrfTokenCheck)

app.get('/page', (c) => {
  const session = c.get('session')
  const visits = nextVisitCount(session.get(visitsKey))
  session.set(visitsKey, visits)
  c.header('Vary', 'HX-Request')

  if (c.req.header('HX-Request') === 'true') {
    return c.html(templates.render('list.html', { items }))
  }
  return c.html(
    templates.render('page.html', {
      title: pageTitle,
      visits,
      items,
      csp_nonce: c.get('secureHeadersNonce'),
      csrf_token: csrfHiddenInput(csrfFieldName, sessionCsrfToken(session)),
    }),
  )
})

app.post('/submit', async (c) => {
  const form = await c.req.parseBody()
  c.get('session').set(noteKey, readNote(form.note))
  return c.redirect('/page', 303)
})

serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  announcePort(info.port)
})
