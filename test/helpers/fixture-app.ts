import { join } from 'node:path'
import { createApp, type FastBlocks, type RunningServer } from 'fastblocks'
import { rateLimit } from 'fastblocks/rate-limit'
import type { Context, Next } from 'hono'
import type { FastBlocksEnv } from 'fastblocks'
import { memoryLog } from './logs.ts'

export const FIXTURE_ROOT = join(import.meta.dirname, '..', 'fixtures', 'app')

export interface RunningFixture {
  app: FastBlocks
  url: string
  logs: ReturnType<typeof memoryLog>
  /** Side effects of the POST routes, in order. */
  effects: string[]
  server: RunningServer
  close(): Promise<void>
}

/** Redirects anonymous visitors to /login. */
async function requireLogin(c: Context<FastBlocksEnv>, next: Next) {
  if (!c.var.session.get('user')) return c.redirect('/login', 302)
  await next()
}

/**
 * Starts a small application with the routes the security cases name: a guarded admin area,
 * a guarded static folder, a route that throws, a rate-limited route, and pages that print
 * request data.
 */
export async function startFixture(
  options: { env?: 'test' | 'production'; overrides?: Record<string, unknown> } = {},
): Promise<RunningFixture> {
  const logs = memoryLog()
  const effects: string[] = []
  const app = await createApp({
    root: FIXTURE_ROOT,
    env: options.env ?? 'test',
    logDestination: logs.destination,
    overrides: { app: { log_level: 'info' }, ...options.overrides },
  })

  app.use('/admin/*', requireLogin)
  app.use('/static/admin/*', requireLogin)

  app.get('/', (c) => c.render('form.html', {}, { block: 'items' }))
  app.post('/items', async (c) => {
    effects.push('items')
    return c.text('created', 201)
  })
  app.get('/admin/users', (c) => c.text('user list: alice, bob'))
  app.get('/login', (c) => c.text('login page'))
  app.post('/login', async (c) => {
    c.var.session.regenerate()
    c.var.session.set('user', 'alice')
    return c.text('logged in')
  })
  app.get('/hello', (c) => {
    // A query parser that builds arrays and objects, as qs-style parsers do.
    const queries = c.req.queries()
    const name = queries['name[]'] ??
      queries['name[0]'] ?? { toString: () => String(queries['name[x]']) }
    return c.render('hello.html', { name })
  })
  app.get('/data', (c) => c.render('data.html', { payload: c.req.query('payload') ?? null }))
  app.get('/download', (c) => {
    // A file name from the query written into a header unchecked, as careless code does.
    const name = c.req.query('name') ?? 'file.txt'
    return new Response('contents', {
      headers: { 'Content-Disposition': `attachment; filename="${name}"` },
    })
  })
  app.get('/boom', () => {
    throw new Error('database password is hunter2')
  })
  app.get('/slow', async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 5000))
    return c.text('late')
  })
  app.post('/limited', rateLimit({ name: 'fixture', points: 3, duration: 60 }), (c) => {
    effects.push('limited')
    return c.text('ok')
  })
  app.rateLimit('POST', '/limited-early', { name: 'fixture-early', points: 2, duration: 60 })
  app.post('/limited-early', (c) => {
    effects.push('limited-early')
    return c.text('ok')
  })
  app.post('/upload-size', async (c) => {
    effects.push('upload-size')
    return c.text('ok')
  })

  const server = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    app,
    url: server.url,
    logs,
    effects,
    server,
    close: () => server.close(),
  }
}
