/**
 * Fastify 5 with @fastify/helmet (default headers, CSP with per-response nonces),
 * @fastify/secure-session (libsodium-encrypted cookie), @fastify/csrf-protection (secret in the
 * session, token from the form body), @fastify/formbody and @fastify/view with Nunjucks.
 */
import Fastify from 'fastify'
import helmet from '@fastify/helmet'
import secureSession from '@fastify/secure-session'
import csrfProtection from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import view from '@fastify/view'
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

declare module '@fastify/secure-session' {
  interface SessionData {
    visits: number
    note: string
  }
}

const sessionMaxAgeSeconds = 14 * 24 * 60 * 60
const csrfFieldName = '_csrf'

const fastify = Fastify({ logger: false })

// Registered in the root scope, outside the plugin scope below, so that no hook runs on it.
fastify.get('/plain', async (_request, reply) => {
  reply.type('text/plain')
  return 'ok'
})

await fastify.register(async (site) => {
  await site.register(helmet, { enableCSPNonces: true })
  await site.register(secureSession, {
    key: Buffer.from(readSecret('BENCH_SESSION_SECRET').slice(0, 64), 'hex'),
    cookieName: '__Host-session',
    expiry: sessionMaxAgeSeconds,
    cookie: {
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
      maxAge: sessionMaxAgeSeconds,
    },
  })
  await site.register(formbody)
  await site.register(csrfProtection, {
    sessionPlugin: '@fastify/secure-session',
    // The plugin's README recommends a getToken of its own; the token comes from the form only.
    getToken: (request) => (request.body as Record<string, string> | undefined)?.[csrfFieldName],
  })
  await site.register(view, {
    engine: { nunjucks },
    templates: templatesDir,
    production: true,
    options: nunjucksOptions,
  })

  site.get('/page', async (request, reply) => {
    const visits = nextVisitCount(request.session.get(visitsKey))
    request.session.set(visitsKey, visits)
    reply.header('Vary', 'HX-Request')

    if (request.headers['hx-request'] === 'true') {
      return reply.view('list.html', { items })
    }
    return reply.view('page.html', {
      title: pageTitle,
      visits,
      items,
      csp_nonce: reply.cspNonce.script,
      csrf_token: csrfHiddenInput(csrfFieldName, reply.generateCsrf()),
    })
  })

  // The token is in the body, so the check runs as a preHandler, after body parsing.
  site.post('/submit', { preHandler: site.csrfProtection }, async (request, reply) => {
    request.session.set(noteKey, readNote((request.body as Record<string, unknown>).note))
    return reply.redirect('/page', 303)
  })
})

const address = await fastify.listen({ port: 0, host: '127.0.0.1' })
announcePort(Number(new URL(address).port))
