import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import pino from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { serveStatic, type ServeStaticOptions } from './index.ts'
import { logRejection } from '../request-context/index.ts'

const SECRET = 'TOP-SECRET'
const LARGE_FILE_SIZE = 1024 * 1024 + 17

let base: string
let root: string
let logLines: Record<string, unknown>[]

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'fastblocks-static-'))
  root = join(base, 'public')
  mkdirSync(join(root, 'admin'), { recursive: true })
  mkdirSync(join(root, 'css'))
  mkdirSync(join(root, '.git'))
  mkdirSync(join(base, 'public-evil'))

  writeFileSync(join(root, 'admin', 'secret.txt'), SECRET)
  writeFileSync(join(root, 'hello.txt'), 'hello')
  writeFileSync(join(root, 'css', 'site.css'), 'body { color: red }')
  writeFileSync(join(root, 'app.js'), 'console.log(1)')
  writeFileSync(join(root, 'data.bin'), Buffer.from([0, 1, 2]))
  writeFileSync(join(root, 'page.html'), '<p>hi</p>')
  writeFileSync(join(root, 'empty.txt'), '')
  writeFileSync(join(root, 'large.bin'), Buffer.alloc(LARGE_FILE_SIZE, 7))
  writeFileSync(join(root, '.env'), 'SESSION_SECRET=dotfile')
  writeFileSync(join(root, '.git', 'config'), '[core]')
  writeFileSync(join(base, 'public-evil', 'x.txt'), 'EVIL-SIBLING')
  writeFileSync(join(base, 'outside.txt'), 'OUTSIDE')

  // Symlinks: a folder and a file outside the root, and an alias of the guarded file inside it.
  symlinkSync(join(base, 'public-evil'), join(root, 'sibling'))
  symlinkSync(join(base, 'outside.txt'), join(root, 'outside.txt'))
  symlinkSync(join(root, 'admin', 'secret.txt'), join(root, 'secret-link.txt'))

  const fixed = new Date('2026-01-02T03:04:05Z')
  utimesSync(join(root, 'hello.txt'), fixed, fixed)
})

afterAll(() => {
  rmSync(base, { recursive: true, force: true })
})

beforeEach(() => {
  logLines = []
})

/** Builds an app with a login guard on `/static/admin/*` in front of the static files. */
function buildApp(options: Partial<ServeStaticOptions> = {}): Hono<FastBlocksEnv> {
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logLines.push(JSON.parse(line)) },
  )
  const app = new Hono<FastBlocksEnv>()

  app.use(async (c, next) => {
    c.set('logger', logger.child({ requestId: 'req-static' }))
    c.set('requestId', 'req-static')
    await next()
  })
  app.onError((error, c) => {
    const known = logRejection(c, error)
    return c.text(known.code, known.status as ContentfulStatusCode)
  })
  app.notFound((c) => c.text('app not found', 404))

  app.use('/static/admin/*', async (c, next) => {
    if (c.req.header('X-Test-User') === undefined) return c.text('login required', 401)
    await next()
  })
  app.use('/static/*', serveStatic({ root, prefix: '/static', ...options }))
  app.post('/static/hello.txt', (c) => c.text('posted'))
  return app
}

const GUARD_BYPASS_PATHS = [
  '/static/admin/secret.txt',
  '/static/admin%2Fsecret.txt',
  '/static/admin%2fsecret.txt',
  '/static//admin/secret.txt',
  '//static/admin/secret.txt',
  '/static/admin%5Csecret.txt',
  '/static/admin%5csecret.txt',
  '/static/./admin/secret.txt',
  '/static/x/../admin/secret.txt',
  '/static/%61dmin/secret.txt',
  '/static/ADMIN/secret.txt',
  // Further members of the same kind.
  '/static/Admin/secret.txt',
  '/static/admin/./secret.txt',
  '/static/x/%2e%2e/admin/secret.txt',
  '/static/x/%2E%2E/admin/secret.txt',
  '/static/%2e/admin/secret.txt',
  '/static/admin\\secret.txt',
  '/static\\admin\\secret.txt',
  '/static/admin/secret.txt%00',
  '/static/admin/secret%2etxt',
  '/static/%2561dmin/secret.txt',
  '/static/admin//secret.txt',
  '/static/admin/secret.txt/',
  '/static/x%2F..%2Fadmin/secret.txt',
  '/static/secret-link.txt',
  '/static/../static/admin/secret.txt',
  '/st%61tic/admin/secret.txt',
]

const REJECTED_STATUSES = [302, 400, 401, 404]

describe('guarded static file, over a real server', () => {
  let server: ServerType
  let port: number

  beforeAll(async () => {
    const app = buildApp()
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve())
    })
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('serves the secret with the guard satisfied', async () => {
    const response = await rawRequest(port, '/static/admin/secret.txt', { 'X-Test-User': 'a' })
    expect(response.status).toBe(200)
    expect(response.body).toContain(SECRET)
  })

  it('guards the control path', async () => {
    const response = await rawRequest(port, '/static/admin/secret.txt')
    expect(response.status).toBe(401)
  })

  it.each(GUARD_BYPASS_PATHS)('never returns the secret for %s', async (path) => {
    const response = await rawRequest(port, path)
    expect(response.body).not.toContain(SECRET)
    expect(REJECTED_STATUSES).toContain(response.status)
  })

  it('rejects encoded separators with 400', async () => {
    for (const path of ['/static/admin%2Fsecret.txt', '/static/admin%5Csecret.txt']) {
      const response = await rawRequest(port, path)
      expect(response.status, path).toBe(400)
      expect(response.body, path).toContain('E_NON_CANONICAL_PATH')
    }
  })

  it('rejects dot segments as sent on the wire', async () => {
    const response = await rawRequest(port, '/static/x/../hello.txt')
    expect(response.status).toBe(400)
    expect(logLines).toContainEqual(expect.objectContaining({ reason: 'dot_segment' }))
  })

  // Unguarded files, so the static handler alone decides.
  const NON_CANONICAL_PUBLIC_PATHS = [
    '/static/%68ello.txt',
    '/static//hello.txt',
    '/static/css%2Fsite.css',
    '/static/css%5Csite.css',
    '/static/./hello.txt',
    '/static/css/../hello.txt',
    '/static/css/%2e%2e/hello.txt',
    '/static/hello.txt%00',
    '/static/hello%zz.txt',
    '/static/css\\site.css',
  ]

  it.each(NON_CANONICAL_PUBLIC_PATHS)('rejects %s with 400', async (path) => {
    const response = await rawRequest(port, path)
    expect(response.status).toBe(400)
  })

  it('streams a large file whole', async () => {
    const response = await rawRequest(port, '/static/large.bin')
    expect(response.status).toBe(200)
    expect(response.headers['content-length']).toBe(String(LARGE_FILE_SIZE))
    expect(response.bodyLength).toBe(LARGE_FILE_SIZE)
  })

  it('sends HEAD without a body', async () => {
    const response = await rawRequest(port, '/static/hello.txt', {}, 'HEAD')
    expect(response.status).toBe(200)
    expect(response.headers['content-length']).toBe('5')
    expect(response.bodyLength).toBe(0)
  })
})

describe('guarded static file, through app.request', () => {
  it.each(GUARD_BYPASS_PATHS)('never returns the secret for %s', async (path) => {
    const response = await buildApp().request(path)
    expect(await response.text()).not.toContain(SECRET)
    expect(REJECTED_STATUSES).toContain(response.status)
  })
})

describe('serveStatic', () => {
  it('serves a file with its headers', async () => {
    const response = await buildApp().request('/static/hello.txt')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hello')
    expect(response.headers.get('Content-Type')).toBe('text/plain; charset=utf-8')
    expect(response.headers.get('Content-Length')).toBe('5')
    expect(response.headers.get('ETag')).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/)
    expect(response.headers.get('Last-Modified')).toBe('Fri, 02 Jan 2026 03:04:05 GMT')
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=0')
    expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff')
  })

  it('ignores the query string', async () => {
    const response = await buildApp().request('/static/hello.txt?v=2&x=%2F..')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hello')
  })

  it('sets Content-Type from the extension', async () => {
    const app = buildApp()
    const expected: [string, string][] = [
      ['/static/css/site.css', 'text/css; charset=utf-8'],
      ['/static/app.js', 'text/javascript; charset=utf-8'],
      ['/static/page.html', 'text/html; charset=utf-8'],
      ['/static/data.bin', 'application/octet-stream'],
    ]
    for (const [path, type] of expected) {
      const response = await app.request(path)
      expect(response.headers.get('Content-Type'), path).toBe(type)
    }
  })

  it('uses the maxAge option', async () => {
    const response = await buildApp({ maxAge: 3600 }).request('/static/hello.txt')
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=3600')
  })

  it('serves an empty file', async () => {
    const response = await buildApp().request('/static/empty.txt')
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Length')).toBe('0')
    expect(await response.text()).toBe('')
  })

  it('sends HEAD with headers only', async () => {
    const response = await buildApp().request('/static/hello.txt', { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Length')).toBe('5')
    expect(await response.text()).toBe('')
  })

  it('sends 304 for a matching ETag', async () => {
    const app = buildApp()
    const etag = (await app.request('/static/hello.txt')).headers.get('ETag') ?? ''

    for (const condition of [etag, etag.slice(2), `"other", ${etag}`, '*']) {
      const response = await app.request('/static/hello.txt', {
        headers: { 'If-None-Match': condition },
      })
      expect(response.status, condition).toBe(304)
      expect(response.headers.get('ETag'), condition).toBe(etag)
      expect(await response.text(), condition).toBe('')
    }
  })

  it('sends 200 for a stale ETag', async () => {
    const response = await buildApp().request('/static/hello.txt', {
      headers: { 'If-None-Match': 'W/"5-0"' },
    })
    expect(response.status).toBe(200)
  })

  it('compares If-Modified-Since', async () => {
    const app = buildApp()
    const notModified = await app.request('/static/hello.txt', {
      headers: { 'If-Modified-Since': 'Fri, 02 Jan 2026 03:04:05 GMT' },
    })
    expect(notModified.status).toBe(304)

    const modified = await app.request('/static/hello.txt', {
      headers: { 'If-Modified-Since': 'Fri, 02 Jan 2026 03:04:04 GMT' },
    })
    expect(modified.status).toBe(200)
  })

  it('rejects dotfiles', async () => {
    const app = buildApp()
    for (const path of ['/static/.env', '/static/.git/config']) {
      const response = await app.request(path)
      expect(response.status, path).toBe(404)
      expect(await response.text(), path).toBe('E_NOT_FOUND')
    }
    expect(logLines).toContainEqual(expect.objectContaining({ reason: 'dotfile' }))
  })

  it('lists no directory', async () => {
    const app = buildApp()
    for (const path of ['/static/css', '/static/css/', '/static/']) {
      const response = await app.request(path)
      expect(response.status, path).toBe(404)
      expect(await response.text(), path).toBe('E_NOT_FOUND')
    }
  })

  it('rejects a symlink to a sibling folder', async () => {
    const response = await buildApp().request('/static/sibling/x.txt')
    expect(response.status).toBe(404)
    expect(await response.text()).not.toContain('EVIL-SIBLING')
    expect(logLines).toContainEqual(expect.objectContaining({ reason: 'outside_root' }))
  })

  it('rejects a symlink to a file outside', async () => {
    const response = await buildApp().request('/static/outside.txt')
    expect(response.status).toBe(404)
    expect(await response.text()).not.toContain('OUTSIDE')
    expect(logLines).toContainEqual(expect.objectContaining({ reason: 'outside_root' }))
  })

  it('rejects a symlink alias inside the root', async () => {
    const response = await buildApp().request('/static/secret-link.txt')
    expect(response.status).toBe(404)
    expect(logLines).toContainEqual(expect.objectContaining({ reason: 'alias' }))
  })

  it('logs a rejection once', async () => {
    await buildApp().request('/static/admin%2Fsecret.txt')
    expect(logLines).toHaveLength(1)
    expect(logLines[0]).toMatchObject({
      level: 40,
      layer: 'static',
      reason: 'encoded_separator',
      requestId: 'req-static',
      path: '/static/admin%2Fsecret.txt',
    })
  })

  it('passes a missing file to the next handler', async () => {
    const response = await buildApp().request('/static/missing.txt')
    expect(response.status).toBe(404)
    expect(await response.text()).toBe('app not found')
  })

  it('passes other methods to the next handler', async () => {
    const response = await buildApp().request('/static/hello.txt', { method: 'POST' })
    expect(await response.text()).toBe('posted')
  })

  it('serves from the site root with prefix /', async () => {
    const app = new Hono<FastBlocksEnv>()
    app.use(serveStatic({ root, prefix: '/' }))
    const response = await app.request('/hello.txt')
    expect(await response.text()).toBe('hello')
  })

  it('rejects invalid options at set-up', () => {
    const invalid: ServeStaticOptions[] = [
      { root: 'public', prefix: '/static' },
      { root: join(base, 'missing'), prefix: '/static' },
      { root: join(root, 'hello.txt'), prefix: '/static' },
      { root, prefix: 'static' },
      { root, prefix: '/static//files' },
      { root, prefix: '/static/../files' },
      { root, prefix: '/st%61tic' },
      { root, prefix: '/static', maxAge: -1 },
    ]
    for (const options of invalid) {
      expect(() => serveStatic(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_SETTINGS' }),
      )
    }
  })
})

interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  bodyLength: number
}

/** Sends a request with the path written as given: fetch and URL would normalise it. */
function rawRequest(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const headerLines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`)

    socket.on('connect', () => {
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headerLines.join('')}` +
          'Connection: close\r\n\r\n',
      )
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('end', () => {
      const raw = Buffer.concat(chunks)
      const headEnd = raw.indexOf('\r\n\r\n')
      const head = raw.subarray(0, headEnd).toString('latin1').split('\r\n')
      const body = raw.subarray(headEnd + 4)
      const parsedHeaders: Record<string, string> = {}
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':')
        parsedHeaders[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({
        status: Number(head[0]?.split(' ')[1]),
        headers: parsedHeaders,
        body: body.toString('latin1'),
        bodyLength: body.length,
      })
    })
  })
}
