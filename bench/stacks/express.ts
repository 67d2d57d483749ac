/**
 * Express 5 with helmet (default headers, CSP with a per-response script nonce), express-session
 * (MemoryStore, secure cookie behind a trusted loopback proxy), csrf-csrf (double-submit token
 * bound to the session id) and Nunjucks through `res.render`.
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type Response } from 'express'
import session from 'express-session'
import cookieParser from 'cookie-parser'
import helmet from 'helmet'
import { doubleCsrf } from 'csrf-csrf'
import nunjucks from 'nunjucks'
import {
  announcePort,
  csrfHiddenInput,
  items,
  nextVisitCount,
  nunjucksOptions,
  pageTitle,
  readNote,
  readSecret,
  templatesDir,
} from './workload.ts'

declare module 'express-session' {
  interface SessionData {
    visits: number
    note: string
  }
}

const sessionMaxAgeMs = 14 * 24 * 60 * 60 * 1000
const csrfFieldName = '_csrf'

const app = express()

// The benchmark client plays a TLS-terminating proxy on loopback and sends
// `X-Forwarded-Proto: https`, so the secure session cookie is set as in production.
app.set('trust proxy', 'loopback')
nunjucks.configure(templatesDir, { ...nunjucksOptions, express: app })

// Registered before any middleware, so that it measures Express routing alone.
app.get('/plain', (_req, res) => {
  res.type('text/plain').send('ok')
})

app.use((_req, res, next) => {
  res.locals.cspNonce = randomBytes(16).toString('base64')
  next()
})
app.use(
  helmet({
    contentSecurityPolicy: {
      directives: {
        scriptSrc: ["'self'", (_req, res) => `'nonce-${(res as Response).locals.cspNonce}'`],
      },
    },
  }),
)
app.use(
  session({
    secret: readSecret('BENCH_SESSION_SECRET'),
    name: '__Host-sid',
    resave: false,
    saveUninitialized: false,
    store: new session.MemoryStore(),
    cookie: { secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: sessionMaxAgeMs },
  }),
)
// csrf-csrf documents cookie-parser after express-session, and reads the token from the body.
app.use(cookieParser())
app.use(express.urlencoded({ extended: false, limit: '1mb' }))

const csrfSecret = readSecret('BENCH_CSRF_SECRET')
const { doubleCsrfProtection, generateCsrfToken, invalidCsrfTokenError } = doubleCsrf({
  getSecret: () => csrfSecret,
  getSessionIdentifier: (req) => req.session.id,
  getCsrfTokenFromRequest: (req) =>
    (req.body as Record<string, string> | undefined)?.[csrfFieldName],
})
app.use(doubleCsrfProtection)

app.get('/page', (req, res) => {
  const visits = nextVisitCount(req.session.visits)
  req.session.visits = visits
  res.vary('HX-Request')

  if (req.get('HX-Request') === 'true') {
    res.render('list.html', { items })
    return
  }
  res.render('page.html', {
    title: pageTitle,
    visits,
    items,
    csp_nonce: res.locals.cspNonce,
    csrf_token: csrfHiddenInput(csrfFieldName, generateCsrfToken(req, res)),
  })
})

app.post('/submit', (req, res) => {
  req.session.note = readNote((req.body as Record<string, unknown>).note)
  res.redirect(303, '/page')
})

app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
  // Rejected token: respond 403 without the default handler's stack-trace log line.
  if (error === invalidCsrfTokenError) {
    res.status(403).type('text/plain').send('Invalid CSRF token')
    return
  }
  next(error)
})

const server = app.listen(0, '127.0.0.1', () => {
  announcePort((server.address() as AddressInfo).port)
})
