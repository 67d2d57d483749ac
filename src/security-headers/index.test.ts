import { Hono } from 'hono'
import { etag } from 'hono/etag'
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { BodyTooLargeError, FastBlocksError, InvalidSettingsError } from '../errors/index.ts'
import {
  applySecurityHeaders,
  createNonce,
  SecurityHeaderPolicy,
  securityHeaders,
  type SecurityHeadersOptions,
} from './index.ts'

const LAST_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT'

function pageWithNonce(nonce: string): string {
  return (
    `<!doctype html><html><head><style nonce="${nonce}">p{}</style></head>` +
    `<body><p>page</p><script nonce="${nonce}">start()</script></body></html>`
  )
}

/** Creates a small app with the layer and a route for each kind of response. */
function createApp(options: SecurityHeadersOptions | SecurityHeaderPolicy = {}) {
  const app = new Hono<FastBlocksEnv>()
  app.onError((error, c) => {
    const status = error instanceof FastBlocksError ? error.status : 500
    return c.text(error instanceof FastBlocksError ? error.code : 'E_INTERNAL', status as 500)
  })
  app.use(async (c, next) => {
    c.set('logger', pino({ level: 'silent' }))
    c.set('requestId', 'test-request')
    await next()
  })
  app.use(securityHeaders(options))

  app.get('/', (c) => c.html(pageWithNonce(c.var.cspNonce)))
  app.get('/validators', (c) => {
    c.header('ETag', '"v1"')
    c.header('Last-Modified', LAST_MODIFIED)
    c.header('Cache-Control', 'public, max-age=600')
    return c.html(pageWithNonce(c.var.cspNonce))
  })
  app.get('/private-no-store', (c) => {
    c.header('Cache-Control', 'private, no-store')
    return c.html(pageWithNonce(c.var.cspNonce))
  })
  app.get('/etag-middleware', etag(), (c) => c.html(pageWithNonce(c.var.cspNonce)))
  app.get('/asset.css', (c) => {
    c.header('ETag', '"asset-1"')
    c.header('Last-Modified', LAST_MODIFIED)
    c.header('Cache-Control', 'public, max-age=600')
    c.header('Set-Cookie', 'seen=1; Path=/')
    return c.body('p { color: red }', 200, { 'Content-Type': 'text/css' })
  })
  app.get('/data.json', (c) => {
    c.header('Server', 'hono-test')
    c.header('X-Powered-By', 'hono-test')
    return c.json({ ok: true })
  })
  app.get('/redirect', () => Response.redirect('https://app.example/', 302))
  app.get('/throws', () => {
    throw new Error('handler failed')
  })
  app.post('/too-large', () => {
    throw new BodyTooLargeError(10)
  })
  app.get('/handler-headers', (c) => {
    c.header('X-Frame-Options', 'ALLOWALL')
    c.header('Content-Security-Policy', "script-src 'unsafe-inline'")
    return c.text('text')
  })
  return app
}

function nonceInHeader(response: Response): string | undefined {
  const policy = response.headers.get('Content-Security-Policy') ?? ''
  return /'nonce-([^']+)'/.exec(policy)?.[1]
}

function noncesInBody(body: string): string[] {
  return [...body.matchAll(/<(?:script|style) nonce="([^"]+)"/g)].map((match) => match[1] ?? '')
}

function expectBaseline(response: Response): void {
  const headers = response.headers
  expect(headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'")
  expect(headers.get('X-Content-Type-Options')).toBe('nosniff')
  expect(headers.get('X-Frame-Options')).toBe('DENY')
  expect(headers.get('Referrer-Policy')).toBe('strict-origin-when-cross-origin')
  expect(headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin')
  expect(headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin')
  expect(headers.get('Permissions-Policy')).toContain('camera=()')
  expect(headers.get('X-XSS-Protection')).toBe('0')
  expect(headers.has('Server')).toBe(false)
  expect(headers.has('X-Powered-By')).toBe(false)
}

describe('securityHeaders', () => {
  test('sets the default policy with the nonce', async () => {
    const response = await createApp().request('/')
    const nonce = nonceInHeader(response)

    expect(response.status).toBe(200)
    expectBaseline(response)
    expect(response.headers.get('Content-Security-Policy')).toBe(
      "default-src 'self'; " +
        `script-src 'self' 'nonce-${nonce}'; ` +
        `style-src 'self' 'nonce-${nonce}'; ` +
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
        "frame-ancestors 'none'",
    )
  })

  test('policy has no unsafe keywords', async () => {
    const policy = (await createApp().request('/')).headers.get('Content-Security-Policy')

    expect(policy).not.toContain('unsafe-inline')
    expect(policy).not.toContain('unsafe-eval')
  })

  test('nonce is 128 bits of base64', async () => {
    const nonce = nonceInHeader(await createApp().request('/')) ?? ''

    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/)
    expect(Buffer.from(nonce, 'base64')).toHaveLength(16)
  })

  test('each response gets a fresh nonce matching its body', async () => {
    const app = createApp()
    const first = await app.request('/')
    const second = await app.request('/')
    const firstNonce = nonceInHeader(first)
    const secondNonce = nonceInHeader(second)

    expect(firstNonce).toBeDefined()
    expect(secondNonce).toBeDefined()
    expect(firstNonce).not.toBe(secondNonce)
    expect(noncesInBody(await first.text())).toEqual([firstNonce, firstNonce])
    expect(noncesInBody(await second.text())).toEqual([secondNonce, secondNonce])
  })

  test('htmx requests get fresh nonces too', async () => {
    const app = createApp()
    const htmx = { 'HX-Request': 'true' }
    const first = await app.request('/', { headers: htmx })
    const second = await app.request('/', { headers: htmx })

    expect(nonceInHeader(first)).not.toBe(nonceInHeader(second))
    expect(noncesInBody(await first.text())[0]).toBe(nonceInHeader(first))
    expect(noncesInBody(await second.text())[0]).toBe(nonceInHeader(second))
  })

  test('HTML with a nonce is not cacheable and has no validators', async () => {
    const response = await createApp().request('/validators')

    expect(response.headers.get('Cache-Control')).toBe('no-store')
    expect(response.headers.has('ETag')).toBe(false)
    expect(response.headers.has('Last-Modified')).toBe(false)
  })

  test("handler's own no-store is kept", async () => {
    const response = await createApp().request('/private-no-store')

    expect(response.headers.get('Cache-Control')).toBe('private, no-store')
  })

  test('conditional GET of a page returns 200 with a fresh nonce', async () => {
    const app = createApp()
    const first = await app.request('/validators')
    const conditional = await app.request('/validators', {
      headers: { 'If-None-Match': '"v1"', 'If-Modified-Since': LAST_MODIFIED },
    })
    const body = await conditional.text()

    expect(first.status).toBe(200)
    expect(conditional.status).toBe(200)
    expect(nonceInHeader(conditional)).not.toBe(nonceInHeader(first))
    expect(noncesInBody(body)[0]).toBe(nonceInHeader(conditional))
  })

  test('page behind an ETag middleware never gets 304', async () => {
    const app = createApp()
    for (const ifNoneMatch of ['*', '"anything"']) {
      const response = await app.request('/etag-middleware', {
        headers: { 'If-None-Match': ifNoneMatch },
      })

      expect(response.status).toBe(200)
      expect(response.headers.has('ETag')).toBe(false)
      expect(noncesInBody(await response.text())[0]).toBe(nonceInHeader(response))
    }
  })

  test('asset keeps its 304 for a matching ETag', async () => {
    const response = await createApp().request('/asset.css', {
      headers: { 'If-None-Match': 'W/"other", "asset-1"' },
    })

    expect(response.status).toBe(304)
    expect(await response.text()).toBe('')
    expect(response.headers.get('ETag')).toBe('"asset-1"')
    expect(response.headers.has('Content-Type')).toBe(false)
    expect(response.headers.get('Set-Cookie')).toBe('seen=1; Path=/')
    expectBaseline(response)
  })

  test('asset keeps its 304 for If-Modified-Since', async () => {
    const app = createApp()
    const notModified = await app.request('/asset.css', {
      headers: { 'If-Modified-Since': LAST_MODIFIED },
    })
    const modified = await app.request('/asset.css', {
      headers: { 'If-Modified-Since': 'Mon, 30 Nov 2026 10:00:00 GMT' },
    })
    const otherTag = await app.request('/asset.css', {
      headers: { 'If-None-Match': '"asset-0"', 'If-Modified-Since': LAST_MODIFIED },
    })

    expect(notModified.status).toBe(304)
    expect(modified.status).toBe(200)
    expect(await modified.text()).toBe('p { color: red }')
    // If-None-Match takes precedence over If-Modified-Since.
    expect(otherTag.status).toBe(200)
  })

  test('responses that are not HTML get the headers', async () => {
    const response = await createApp().request('/data.json')

    expect(response.status).toBe(200)
    expectBaseline(response)
    expect(nonceInHeader(response)).toBeDefined()
    expect(response.headers.has('Cache-Control')).toBe(false)
  })

  test('redirect with immutable headers gets the headers', async () => {
    const response = await createApp().request('/redirect')

    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('https://app.example/')
    expectBaseline(response)
  })

  test('error, 404 and 413 responses get the headers', async () => {
    const app = createApp()
    const responses = [
      await app.request('/throws'),
      await app.request('/no-such-page'),
      await app.request('/too-large', { method: 'POST' }),
    ]

    expect(responses.map((response) => response.status)).toEqual([500, 404, 413])
    for (const response of responses) expectBaseline(response)
  })

  test("handler's own headers are replaced", async () => {
    const response = await createApp().request('/handler-headers')

    expect(response.headers.get('X-Frame-Options')).toBe('DENY')
    expect(response.headers.get('Content-Security-Policy')).not.toContain('unsafe-inline')
  })

  test('HSTS only when the option is on', async () => {
    const off = await createApp().request('https://app.example/')
    const on = await createApp({ hsts: true }).request('http://app.example/')
    const shorter = await createApp({ hsts: true, hstsMaxAge: 600 }).request('/')

    expect(off.headers.has('Strict-Transport-Security')).toBe(false)
    expect(on.headers.get('Strict-Transport-Security')).toBe('max-age=31536000; includeSubDomains')
    expect(shorter.headers.get('Strict-Transport-Security')).toBe('max-age=600; includeSubDomains')
  })

  test('extra sources are merged into the defaults', async () => {
    const app = createApp({
      csp: {
        'img-src': ['https://cdn.example'],
        'script-src': ['https://cdn.example/js/'],
        'connect-src': ['wss://live.app.example'],
        'frame-src': ["'none'"],
        'object-src': ['https://media.example'],
        'report-uri': ['/csp-report'],
        'upgrade-insecure-requests': [],
      },
    })
    const policy = (await app.request('/')).headers.get('Content-Security-Policy') ?? ''
    const directives = policy.split('; ')

    expect(directives).toContain("img-src 'self' data: https://cdn.example")
    expect(policy).toMatch(/script-src 'self' https:\/\/cdn\.example\/js\/ 'nonce-[^']+'/)
    expect(directives).toContain("connect-src 'self' wss://live.app.example")
    expect(directives).toContain("frame-src 'none'")
    expect(directives).toContain('object-src https://media.example')
    expect(directives).toContain('report-uri /csp-report')
    expect(directives).toContain('upgrade-insecure-requests')
  })

  test('script-src-elem gets the nonce', async () => {
    const app = createApp({ csp: { 'script-src-elem': ['https://cdn.example'] } })
    const response = await app.request('/')

    expect(response.headers.get('Content-Security-Policy')).toContain(
      `script-src-elem 'self' https://cdn.example 'nonce-${nonceInHeader(response)}'`,
    )
  })
})

describe('CSP settings validation', () => {
  const invalidSettings: Array<[string, Record<string, string[]>]> = [
    ['semicolon', { 'img-src': ["https://cdn.example; script-src 'unsafe-inline'"] }],
    ['comma', { 'img-src': ['https://cdn.example,https://evil.example'] }],
    ['semicolon in path', { 'img-src': ['https://cdn.example/img;script-src'] }],
    ['comma in path', { 'img-src': ['https://cdn.example/img,https:'] }],
    ['newline', { 'img-src': ['https://cdn.example\nX-Injected: 1'] }],
    ['space', { 'img-src': ['https://a.example https://b.example'] }],
    ['quote in host', { 'img-src': ['https://cdn.example"'] }],
    ['unknown keyword', { 'script-src': ["'unsafe-everything'"] }],
    ['unknown directive', { 'scripts-src': ["'self'"] }],
    ['unsafe-inline in script-src', { 'script-src': ["'unsafe-inline'"] }],
    ['unsafe-eval in script-src', { 'script-src': ["'unsafe-eval'"] }],
    ['unsafe-inline in default-src', { 'default-src': ["'unsafe-inline'"] }],
    ['unsafe-hashes in script-src-attr', { 'script-src-attr': ["'unsafe-hashes'"] }],
    ['unsafe-inline in style-src', { 'style-src': ["'unsafe-inline'"] }],
    ['fixed nonce', { 'script-src': ["'nonce-abc123'"] }],
    ['none narrowing a default', { 'img-src': ["'none'"] }],
    ['none with other sources', { 'frame-src': ["'none'", 'https://a.example'] }],
    ['bad port', { 'img-src': ['https://cdn.example:http'] }],
    ['report-to without a value', { 'report-to': [] }],
    ['value on upgrade-insecure-requests', { 'upgrade-insecure-requests': ['yes'] }],
  ]

  test.each(invalidSettings)('rejects %s', (_name, csp) => {
    expect(() => new SecurityHeaderPolicy({ csp })).toThrow(InvalidSettingsError)
  })

  test('error names the directive and the value', () => {
    const setting = { 'img-src': ['https://cdn.example;'] }

    expect(() => new SecurityHeaderPolicy({ csp: setting })).toThrow(/img-src.*cdn\.example;/)
  })

  test('error has the settings code', () => {
    try {
      new SecurityHeaderPolicy({ csp: { 'img-src': ['bad value'] } })
      expect.unreachable('the setting is invalid')
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSettingsError)
      expect((error as InvalidSettingsError).code).toBe('E_INVALID_SETTINGS')
    }
  })

  test('rejects a negative HSTS max-age', () => {
    expect(() => new SecurityHeaderPolicy({ hsts: true, hstsMaxAge: -1 })).toThrow(
      InvalidSettingsError,
    )
  })

  test('accepts valid source expressions', () => {
    const csp = {
      'img-src': ['https:', 'blob:', '*.cdn.example', 'https://cdn.example:8443/img/'],
      'script-src': ["'strict-dynamic'", "'sha256-AbC+/0123456789xyz='", "'wasm-unsafe-eval'"],
      sandbox: ['allow-forms', 'allow-scripts'],
      'report-to': ['csp-endpoint'],
      'require-trusted-types-for': ["'script'"],
    }

    expect(() => new SecurityHeaderPolicy({ csp })).not.toThrow()
  })

  test('allowUnsafe accepts unsafe-eval and warns once', () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) })
    const policy = new SecurityHeaderPolicy({
      csp: { 'script-src': ["'unsafe-eval'"] },
      allowUnsafe: true,
      logger,
    })

    expect(policy.contentSecurityPolicy()).toContain("script-src 'self' 'unsafe-eval'")
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      layer: 'security-headers',
      unsafeSources: [{ directive: 'script-src', source: "'unsafe-eval'" }],
    })
  })
})

describe('applySecurityHeaders', () => {
  test('sets the nonce-less baseline on bare headers', () => {
    const headers = new Headers({ 'Content-Type': 'text/html', Server: 'node' })
    applySecurityHeaders(headers)

    expectBaseline(new Response(null, { headers }))
    expect(headers.get('Content-Security-Policy')).toContain("script-src 'self';")
    expect(headers.get('Content-Security-Policy')).not.toContain('nonce')
  })

  test('keeps a nonce policy already set', async () => {
    const response = await createApp().request('/')
    const before = response.headers.get('Content-Security-Policy')
    applySecurityHeaders(response.headers)

    expect(response.headers.get('Content-Security-Policy')).toBe(before)
  })

  test('uses the given policy for HSTS', () => {
    const headers = new Headers()
    applySecurityHeaders(headers, { policy: new SecurityHeaderPolicy({ hsts: true }) })

    expect(headers.get('Strict-Transport-Security')).toBe('max-age=31536000; includeSubDomains')
  })

  test('with a nonce, HTML loses its validators', () => {
    const headers = new Headers({ 'Content-Type': 'text/html', ETag: '"v1"' })
    const nonce = createNonce()
    applySecurityHeaders(headers, { nonce })

    expect(headers.get('Content-Security-Policy')).toContain(`'nonce-${nonce}'`)
    expect(headers.get('Cache-Control')).toBe('no-store')
    expect(headers.has('ETag')).toBe(false)
  })

  test('rejects a nonce that is not base64', () => {
    const headers = new Headers()

    expect(() => applySecurityHeaders(headers, { nonce: "x'; script-src *" })).toThrow(TypeError)
  })
})

describe('createNonce', () => {
  test('nonces do not repeat across pool refills', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 2000; i++) seen.add(createNonce())

    expect(seen.size).toBe(2000)
  })
})
