import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { pino } from 'pino'
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { FastBlocksError, InvalidSettingsError } from '../errors/index.ts'
import { bodyLimit, nodeServerLimits, requestTimeout } from './index.ts'
import { logRejection } from '../request-context/index.ts'

const MIB = 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 'a')

interface LogLine {
  layer?: string
  reason?: string
  requestId?: string
  msg?: string
}

interface TestApp {
  app: Hono<FastBlocksEnv>
  /** Side effects the handlers recorded, in order. */
  effects: string[]
  logs: LogLine[]
}

/** Creates an app with the limits layer, a minimal error boundary and handlers with side effects. */
function createApp(options: { maxBytes?: number; timeoutMs?: number } = {}): TestApp {
  const effects: string[] = []
  const logs: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) })
  const app = new Hono<FastBlocksEnv>()

  app.onError((error, c) => {
    logRejection(c, error)
    if (!(error instanceof FastBlocksError)) return c.text('E_INTERNAL', 500)
    return c.text(error.code, error.status as 400, error.headers)
  })
  app.use(async (c, next) => {
    c.set('requestId', 'request-1')
    c.set('logger', logger.child({ requestId: 'request-1' }))
    await next()
  })
  app.use(requestTimeout({ ms: options.timeoutMs ?? 5_000 }))
  app.use(bodyLimit({ maxBytes: options.maxBytes ?? MIB }))

  app.post('/account/avatar-url', (c) => {
    effects.push('avatar-url')
    return c.text('saved')
  })
  app.post('/first-chunk', async (c) => {
    const reader = c.req.raw.body?.getReader()
    const first = await reader?.read()
    effects.push(`first-chunk:${first?.value?.byteLength ?? 0}`)
    return c.text('saved')
  })
  app.post('/length', async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer())
    effects.push(`length:${body.byteLength}`)
    return c.json({ length: body.byteLength, contentLength: c.req.header('Content-Length') })
  })
  app.post('/form', async (c) => c.json(await c.req.parseBody()))
  app.post('/json', async (c) => c.json(await c.req.json()))
  app.post('/text', async (c) => c.text(await c.req.text()))
  app.post('/raw-stream', async (c) => c.text(await new Response(c.req.raw.body).text()))
  app.get('/slow', async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 300))
    effects.push('slow')
    return c.text('late')
  })
  app.get('/fails', () => {
    throw new Error('handler failed')
  })
  app.get('/', (c) => c.text('ok'))
  return { app, effects, logs }
}

const servers: ServerType[] = []

afterEach(async () => {
  for (const server of servers.splice(0)) {
    if ('closeAllConnections' in server) server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** Starts the app on a Node server on 127.0.0.1 and an ephemeral port. */
function listen(
  app: Hono<FastBlocksEnv>,
  serverOptions: ReturnType<typeof nodeServerLimits> | Record<string, never> = {},
): Promise<number> {
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions },
      (info: AddressInfo) => resolve(info.port),
    )
    servers.push(server)
  })
}

interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** Milliseconds from the request start to the end of the response. */
  elapsedMs: number
  /** Body bytes the client had written when the response arrived. */
  bytesSent: number
}

interface SendOptions {
  method?: string
  path: string
  headers?: Record<string, string>
  /** Body chunks; without a Content-Length header they go out chunked. */
  chunks?: Buffer[]
  /** Pause before each chunk after the first, in milliseconds. */
  delayMs?: number
  /** Destroy the connection after this many chunks instead of finishing the body. */
  abortAfterChunks?: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Sends one request with node:http and resolves with the response. Writing stops as soon as
 * the response arrives, as a browser would. Resolves undefined if the connection ends
 * without a response.
 */
function send(port: number, options: SendOptions): Promise<HttpResult | undefined> {
  const started = performance.now()
  return new Promise((resolve) => {
    let bytesSent = 0
    let responded = false
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'POST',
      path: options.path,
      headers: options.headers,
      agent: false,
    })
    req.on('response', (res) => {
      responded = true
      const parts: Buffer[] = []
      res.on('data', (part: Buffer) => parts.push(part))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(parts).toString(),
          elapsedMs: performance.now() - started,
          bytesSent,
        }),
      )
      res.on('error', () => undefined)
    })
    // Writes after the server closed the connection fail; only the response matters.
    req.on('error', () => {
      if (!responded) resolve(undefined)
    })
    req.on('close', () => {
      if (!responded) resolve(undefined)
    })

    void (async () => {
      const chunks = options.chunks ?? []
      for (const [index, chunk] of chunks.entries()) {
        if (responded || req.destroyed) return
        if (index > 0 && options.delayMs !== undefined) await sleep(options.delayMs)
        if (options.abortAfterChunks === index) {
          req.destroy()
          return
        }
        bytesSent += chunk.byteLength
        await new Promise<void>((done) => req.write(chunk, () => done()))
      }
      if (!responded && !req.destroyed) req.end()
    })()
  })
}

/** Writes raw bytes on a TCP connection and collects everything the server sends back. */
function sendRaw(port: number, data: Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const received: Buffer[] = []
    socket.on('data', (part) => received.push(part))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')))
    socket.on('connect', () => {
      for (const part of data) socket.write(part)
      socket.end()
    })
  })
}

function chunks(count: number): Buffer[] {
  return Array.from({ length: count }, () => CHUNK)
}

describe('bodyLimit over HTTP', () => {
  test('chunked 2 MiB body gets 413 before the handler', async () => {
    const { app, effects, logs } = createApp()
    const port = await listen(app)
    const result = await send(port, {
      path: '/account/avatar-url',
      // A client that asks to keep the connection open, so that closing it is the server's call.
      headers: { Connection: 'keep-alive' },
      chunks: chunks(32),
    })

    expect(result?.status).toBe(413)
    expect(result?.body).toBe('E_BODY_TOO_LARGE')
    expect(result?.headers.connection).toBe('close')
    expect(effects).toEqual([])
    expect(logs.filter((line) => line.layer === 'limits')).toMatchObject([
      { reason: 'body over the limit', requestId: 'request-1' },
    ])
  })

  test('handler reading one chunk never runs', async () => {
    const { app, effects } = createApp()
    const port = await listen(app)
    const result = await send(port, { path: '/first-chunk', chunks: chunks(32) })

    expect(result?.status).toBe(413)
    expect(effects).toEqual([])
  })

  test('slow chunked sender gets 413 once over the limit', async () => {
    const { app, effects } = createApp({ maxBytes: 256 * 1024 })
    const port = await listen(app)
    const result = await send(port, {
      path: '/account/avatar-url',
      chunks: chunks(30),
      delayMs: 100,
    })

    expect(result?.status).toBe(413)
    expect(effects).toEqual([])
    // The fifth 64 KiB chunk crosses 256 KiB, and the server does not wait for the rest.
    expect(result?.bytesSent).toBeLessThan(30 * CHUNK.byteLength)
    expect(result?.elapsedMs).toBeLessThan(2_500)
  })

  test('declared length over the limit gets 413 without a body', async () => {
    const { app, effects, logs } = createApp()
    const port = await listen(app)
    const result = await send(port, {
      path: '/account/avatar-url',
      headers: { 'Content-Length': String(100 * MIB), Connection: 'keep-alive' },
      // The client waits for the response and never sends the 100 MiB.
      chunks: [Buffer.alloc(0)],
      delayMs: 5_000,
    })

    expect(result?.status).toBe(413)
    expect(result?.elapsedMs).toBeLessThan(1_000)
    expect(result?.headers.connection).toBe('close')
    expect(effects).toEqual([])
    expect(logs.filter((line) => line.layer === 'limits')).toMatchObject([
      { reason: 'declared length over the limit', requestId: 'request-1' },
    ])
  })

  test('extra bytes after a declared length are never read as the body', async () => {
    const { app, effects } = createApp()
    const port = await listen(app)
    const head =
      'POST /length HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n' +
      'Content-Type: application/octet-stream\r\n\r\n'
    const raw = await sendRaw(port, [Buffer.from(head), Buffer.alloc(2 * MIB, 'b')])
    const lengths = [...raw.matchAll(/"length":(\d+)/g)].map((match) => Number(match[1]))

    // Node reads 10 bytes as the body and rejects the rest with 400, as it is no request.
    expect(raw).toMatch(/^HTTP\/1\.1 (?:200|400) /)
    for (const length of lengths) expect(length).toBeLessThanOrEqual(10)
    expect(effects.every((effect) => effect === 'length:10')).toBe(true)
  })

  test('declared body is readable from the raw request', async () => {
    const { app } = createApp()
    const port = await listen(app)
    const body = 'name=Ada&role=admin'
    const form = await send(port, {
      path: '/form',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': String(body.length),
      },
      chunks: [Buffer.from(body)],
    })
    const stream = await send(port, {
      path: '/raw-stream',
      headers: { 'Content-Length': String(body.length) },
      chunks: [Buffer.from(body.slice(0, 5)), Buffer.from(body.slice(5))],
    })

    expect(form?.status).toBe(200)
    expect(JSON.parse(form?.body ?? '')).toEqual({ name: 'Ada', role: 'admin' })
    expect(stream?.status).toBe(200)
    expect(stream?.body).toBe(body)
  })

  test('body within the limit is readable as form, JSON and text', async () => {
    const { app } = createApp()
    const port = await listen(app)
    const form = await send(port, {
      path: '/form',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      chunks: [Buffer.from('name=Ada&'), Buffer.from('role=admin')],
    })
    const json = await send(port, {
      path: '/json',
      headers: { 'Content-Type': 'application/json', 'Content-Length': '17' },
      chunks: [Buffer.from('{"items":[1,2,3]}')],
    })
    const text = await send(port, {
      path: '/text',
      chunks: [Buffer.from('héllo '), Buffer.from('world')],
    })

    expect(form?.status).toBe(200)
    expect(JSON.parse(form?.body ?? '')).toEqual({ name: 'Ada', role: 'admin' })
    expect(json?.status).toBe(200)
    expect(JSON.parse(json?.body ?? '')).toEqual({ items: [1, 2, 3] })
    expect(text?.body).toBe('héllo world')
  })

  test('body of exactly the limit passes', async () => {
    const { app, effects } = createApp({ maxBytes: 4 * CHUNK.byteLength })
    const port = await listen(app)
    const result = await send(port, { path: '/length', chunks: chunks(4) })

    expect(result?.status).toBe(200)
    expect(JSON.parse(result?.body ?? '')).toEqual({
      length: 4 * CHUNK.byteLength,
      contentLength: String(4 * CHUNK.byteLength),
    })
    expect(effects).toEqual([`length:${4 * CHUNK.byteLength}`])
  })

  test('client closing mid-body releases the read', async () => {
    const { app, effects, logs } = createApp()
    const port = await listen(app)
    const result = await send(port, {
      path: '/account/avatar-url',
      chunks: chunks(4),
      abortAfterChunks: 2,
    })

    await vi.waitFor(() => {
      expect(logs.filter((line) => line.layer === 'limits')).toMatchObject([
        { reason: 'body read failed', requestId: 'request-1' },
      ])
    })
    expect(result).toBeUndefined()
    expect(effects).toEqual([])
  })

  test('client stalling mid-body is cut off by the server timeout', async () => {
    const { app, effects, logs } = createApp()
    const limits = nodeServerLimits({
      headers_timeout: 500,
      request_timeout: 1_000,
      max_header_size: 16_384,
    })
    const port = await listen(app, limits)
    const result = await send(port, {
      path: '/account/avatar-url',
      chunks: [CHUNK, CHUNK],
      delayMs: 10_000,
    })

    expect(result?.status).toBe(408)
    expect(effects).toEqual([])
    await vi.waitFor(() => {
      expect(logs.filter((line) => line.layer === 'limits')).toMatchObject([
        { reason: 'body read failed' },
      ])
    })
  })

  test('GET is not buffered', async () => {
    const { app } = createApp()
    const port = await listen(app)
    const result = await send(port, { method: 'GET', path: '/' })

    expect(result?.status).toBe(200)
    expect(result?.body).toBe('ok')
  })
})

describe('nodeServerLimits', () => {
  const settings = { headers_timeout: 10_000, request_timeout: 30_000, max_header_size: 16_384 }

  test('maps the settings to server options', () => {
    expect(nodeServerLimits(settings)).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16_384,
      connectionsCheckingInterval: 1_000,
    })
  })

  test('request timeout never below the headers timeout', () => {
    const limits = nodeServerLimits({ ...settings, headers_timeout: 40_000 })

    expect(limits.requestTimeout).toBe(40_000)
    expect(limits.headersTimeout).toBe(40_000)
  })

  test('20 KB header gets 431 from Node', async () => {
    const { app } = createApp()
    const port = await listen(app, nodeServerLimits(settings))
    const result = await send(port, {
      method: 'GET',
      path: '/',
      headers: { 'X-Padding': 'p'.repeat(20_000) },
    })

    expect(result?.status).toBe(431)
  })

  test('max_header_size sets the header limit', async () => {
    const { app } = createApp()
    const larger = await listen(app, nodeServerLimits({ ...settings, max_header_size: 32_768 }))
    const smaller = await listen(app, nodeServerLimits({ ...settings, max_header_size: 8_192 }))
    const padding = { 'X-Padding': 'p'.repeat(10_000) }
    const big = { 'X-Padding': 'p'.repeat(20_000) }

    expect((await send(larger, { method: 'GET', path: '/', headers: big }))?.status).toBe(200)
    expect((await send(smaller, { method: 'GET', path: '/', headers: padding }))?.status).toBe(431)
  })
})

describe('requestTimeout', () => {
  test('slow handler gets 503', async () => {
    const { app, logs } = createApp({ timeoutMs: 50 })
    const response = await app.request('/slow')

    expect(response.status).toBe(503)
    expect(await response.text()).toBe('E_REQUEST_TIMEOUT')
    expect(logs.filter((line) => line.layer === 'limits')).toMatchObject([
      { reason: 'handler timed out', requestId: 'request-1' },
    ])
  })

  test('fast handler passes and clears its timer', async () => {
    vi.useFakeTimers()
    try {
      const { app } = createApp({ timeoutMs: 1_000 })
      const response = await app.request('/')

      expect(response.status).toBe(200)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  test('slow request times out among fast ones', async () => {
    const { app } = createApp({ timeoutMs: 50 })
    const started = performance.now()
    const [slow, ...fast] = await Promise.all([
      app.request('/slow'),
      ...Array.from({ length: 5 }, () => app.request('/')),
    ])

    expect(slow?.status).toBe(503)
    for (const response of fast) expect(response.status).toBe(200)
    // The check runs every tenth of the limit, so the 503 comes soon after 50 ms.
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  test('handler error passes through unchanged', async () => {
    const { app } = createApp({ timeoutMs: 1_000 })
    const response = await app.request('/fails')

    expect(response.status).toBe(500)
  })

  test('rejects a timeout that is not positive', () => {
    expect(() => requestTimeout({ ms: 0 })).toThrow(InvalidSettingsError)
  })
})

describe('bodyLimit', () => {
  test('rejects an invalid maxBytes', () => {
    expect(() => bodyLimit({ maxBytes: -1 })).toThrow(InvalidSettingsError)
  })

  test('body longer than a declared length is counted', async () => {
    const { app, effects } = createApp({ maxBytes: 100 })
    // Outside Node's HTTP parser a Request can carry more bytes than its Content-Length states.
    const response = await app.request('/length', {
      method: 'POST',
      headers: { 'Content-Length': '10' },
      body: 'x'.repeat(500),
    })

    expect(response.status).toBe(413)
    expect(effects).toEqual([])
  })
})
