import { Hono } from 'hono'
import { pino } from 'pino'
import { beforeEach, describe, expect, test } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import type { ErrorCode } from '../errors/index.ts'
import type { FlashMessage, Session } from '../session/types.ts'
import { csrfProtection, MASKED_TOKEN_LENGTH, SEED_KEY } from './index.ts'
import type { CsrfOptions } from './index.ts'
import { logRejection } from '../request-context/index.ts'

const APP = 'http://127.0.0.1:8000'
const EVIL = 'https://evil.example'
const SECRET = 'test-csrf-secret-0123456789abcdef0123456789'

/** In-memory stand-in for the session layer's Session, keyed by the `sid` cookie. */
class MemorySession implements Session {
  readonly #values = new Map<string, unknown>()
  #modified = false
  readonly isNew = false

  get isModified(): boolean {
    return this.#modified
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined
  }

  set(key: string, value: unknown): void {
    this.#values.set(key, value)
    this.#modified = true
  }

  delete(key: string): void {
    this.#modified = this.#values.delete(key) || this.#modified
  }

  has(key: string): boolean {
    return this.#values.has(key)
  }

  clear(): void {
    this.#values.clear()
    this.#modified = true
  }

  regenerate(): void {
    this.#values.delete(SEED_KEY)
    this.#modified = true
  }

  flash(type: string, text: string): void {
    this.set('_flash', [...this.consumeFlash(), { type, text }])
  }

  consumeFlash(): FlashMessage[] {
    const messages = this.get<FlashMessage[]>('_flash') ?? []
    this.delete('_flash')
    return messages
  }

  resetModified(): void {
    this.#modified = false
  }
}

interface LogLine {
  level: number
  msg: string
  layer?: string
  reason?: string
  requestId?: string
  method?: string
  path?: string
  [key: string]: unknown
}

interface Harness {
  app: Hono<FastBlocksEnv>
  sessions: Map<string, MemorySession>
  /** Side effects of the handlers that change state, in order. */
  effects: string[]
  /** Lines logged by request loggers. */
  requestLogs: LogLine[]
  /** Lines logged at set-up through `options.logger`. */
  setupLogs: LogLine[]
}

function capturingLogger(lines: LogLine[]) {
  return pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) })
}

function createHarness(
  options: Partial<CsrfOptions> = {},
  configure?: (protection: ReturnType<typeof csrfProtection>) => void,
  appOrigin = APP,
): Harness {
  const sessions = new Map<string, MemorySession>()
  const effects: string[] = []
  const requestLogs: LogLine[] = []
  const setupLogs: LogLine[] = []
  const requestLogger = capturingLogger(requestLogs)
  let requestCount = 0

  const protection = csrfProtection({
    secret: SECRET,
    logger: capturingLogger(setupLogs),
    ...options,
  })
  configure?.(protection)

  const app = new Hono<FastBlocksEnv>()
  // Layer 1 stand-in: request id, child logger bound to it, app origin.
  app.use(async (c, next) => {
    requestCount += 1
    const requestId = `req-${requestCount}`
    c.set('requestId', requestId)
    c.set('logger', requestLogger.child({ requestId }))
    c.set('appOrigin', appOrigin)
    await next()
  })
  // Layer 5 stand-in: one in-memory session per `sid` cookie.
  app.use(async (c, next) => {
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(c.req.header('Cookie') ?? '')?.[1] ?? 'anonymous'
    let session = sessions.get(sid)
    if (session === undefined) {
      session = new MemorySession()
      sessions.set(sid, session)
    }
    c.set('session', session)
    await next()
  })
  app.use(protection.middleware)

  app.get('/token', (c) => c.text(c.var.csrfToken()))
  app.get('/page', (c) =>
    c.html(`<head><meta name="csrf-token" content="${c.var.csrfToken()}"></head><body></body>`),
  )
  app.get('/plain-page', (c) => c.html('<p>no token used</p>'))
  app.get('/data', (c) => c.json({ ok: true }))
  app.on(['HEAD', 'OPTIONS'], '/data', (c) => c.body(null, 200))
  app.post('/account/email', async (c) => {
    const body = await c.req.parseBody()
    effects.push(`email=${String(body.email)}`)
    return c.text('changed')
  })
  app.post('/api/prefs', async (c) => {
    const prefs = await c.req.json()
    effects.push(`prefs=${JSON.stringify(prefs)}`)
    return c.json({ ok: true })
  })
  app.on(['PUT', 'PATCH', 'DELETE', 'PROPFIND', 'patch'], '/account', (c) => {
    effects.push(`${c.req.method} /account`)
    return c.text('changed')
  })
  app.post('/login', (c) => {
    c.var.session.regenerate()
    effects.push('login')
    return c.text('logged in')
  })
  app.post('/webhooks/x', (c) => {
    effects.push('webhook')
    return c.text('received')
  })
  app.put('/webhooks/x', (c) => {
    effects.push('webhook put')
    return c.text('received')
  })
  app.post('/webhooks/x/', (c) => {
    effects.push('webhook slash')
    return c.text('received')
  })

  app.onError((error, c) => {
    const failure = logRejection(c, error)
    return c.json({ code: failure.code }, failure.status as 400, failure.headers)
  })

  return { app, sessions, effects, requestLogs, setupLogs }
}

function cookieFor(sid: string): Record<string, string> {
  return { Cookie: `sid=${sid}` }
}

/** Headers of a same-origin request from the application's own page. */
function sameOrigin(sid: string): Record<string, string> {
  return { ...cookieFor(sid), Origin: APP, 'Sec-Fetch-Site': 'same-origin' }
}

async function tokenFor(harness: Harness, sid: string): Promise<string> {
  const response = await harness.app.request('/token', { headers: cookieFor(sid) })
  return response.text()
}

async function errorCodeOf(response: Response): Promise<ErrorCode | undefined> {
  if (response.status < 400) return undefined
  const body = (await response.json()) as { code: ErrorCode }
  return body.code
}

function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

function multipartBody(boundary: string, fields: Record<string, string>): string {
  const parts = Object.entries(fields).map(
    ([name, value]) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  )
  return `${parts.join('')}--${boundary}--\r\n`
}

/** Sends the body as bytes, so fetch adds no Content-Type of its own. */
function bytes(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text)
}

function csrfLogs(harness: Harness): LogLine[] {
  return harness.requestLogs.filter((line) => line.layer === 'csrf')
}

describe('Content-Type never decides the CSRF check', () => {
  // The requests of the case: a form-like body posted cross-site in every shape a browser
  // sends without a preflight, plus a JSON endpoint hit with a text/plain body.
  const shapes: { name: string; path: string; contentType?: string; body: string }[] = [
    { name: 'no Content-Type', path: '/account/email', body: 'email=attacker%40evil.example' },
    {
      name: 'text/plain',
      path: '/account/email',
      contentType: 'text/plain',
      body: 'email=attacker%40evil.example',
    },
    {
      name: 'upper-cased form type',
      path: '/account/email',
      contentType: 'Application/X-WWW-Form-Urlencoded',
      body: 'email=attacker%40evil.example',
    },
    {
      name: 'form type with charset',
      path: '/account/email',
      contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
      body: 'email=attacker%40evil.example',
    },
    {
      name: 'multipart with boundary',
      path: '/account/email',
      contentType: 'multipart/form-data; boundary=XyZ',
      body: multipartBody('XyZ', { email: 'attacker@evil.example' }),
    },
    {
      name: 'JSON endpoint, text/plain body',
      path: '/api/prefs',
      contentType: 'text/plain;charset=UTF-8',
      body: '{"theme":"x"}',
    },
  ]

  const variants: { name: string; headers: Record<string, string>; code: ErrorCode }[] = [
    {
      name: 'cross-site with Fetch Metadata',
      headers: { ...cookieFor('a'), Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' },
      code: 'E_BAD_CSRF_ORIGIN',
    },
    {
      name: 'foreign Origin without Fetch Metadata',
      headers: { ...cookieFor('a'), Origin: EVIL },
      code: 'E_BAD_CSRF_ORIGIN',
    },
    {
      name: 'own Origin without token',
      headers: sameOrigin('a'),
      code: 'E_BAD_CSRF_TOKEN',
    },
  ]

  for (const variant of variants) {
    for (const shape of shapes) {
      test(`${variant.name}: ${shape.name} rejected`, async () => {
        const harness = createHarness()
        await tokenFor(harness, 'a')
        const headers: Record<string, string> = { ...variant.headers }
        if (shape.contentType !== undefined) headers['Content-Type'] = shape.contentType
        const request = new Request(`http://127.0.0.1:8000${shape.path}`, {
          method: 'POST',
          headers,
          body: bytes(shape.body),
        })
        expect(request.headers.get('Content-Type')).toBe(shape.contentType ?? null)

        const response = await harness.app.request(request)

        expect(response.status).toBe(403)
        expect(await errorCodeOf(response)).toBe(variant.code)
        expect(harness.effects).toEqual([])
      })
    }
  }
})

describe('Sec-Fetch-Site and Origin checks', () => {
  let harness: Harness
  let token: string

  beforeEach(async () => {
    harness = createHarness({ trustedOrigins: ['https://admin.app.example'] })
    token = await tokenFor(harness, 'a')
  })

  const post = (headers: Record<string, string>) =>
    harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...cookieFor('a'),
        'X-CSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
        ...headers,
      },
      body: formBody({ email: 'a@app.example' }),
    })

  test('cross-site Sec-Fetch-Site rejected despite own Origin', async () => {
    const response = await post({ Origin: APP, 'Sec-Fetch-Site': 'cross-site' })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(csrfLogs(harness)[0]?.reason).toBe('cross-site request')
    expect(harness.effects).toEqual([])
  })

  test('foreign Origin with valid token rejected', async () => {
    const response = await post({ Origin: EVIL })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(csrfLogs(harness)[0]?.reason).toBe('untrusted origin')
    expect(harness.effects).toEqual([])
  })

  test('same-site origin on other port rejected', async () => {
    const response = await post({ Origin: 'http://127.0.0.1:8001', 'Sec-Fetch-Site': 'same-site' })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(harness.effects).toEqual([])
  })

  test('same host over other scheme rejected', async () => {
    const response = await post({ Origin: 'https://127.0.0.1:8000' })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
  })

  test('missing Origin and Referer rejected', async () => {
    const response = await post({})

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(csrfLogs(harness)[0]?.reason).toBe('missing origin')
    expect(harness.effects).toEqual([])
  })

  test('Referer origin used without Origin', async () => {
    const accepted = await post({ Referer: `${APP}/account?tab=email` })
    const rejected = await post({ Referer: `${EVIL}/account` })

    expect(accepted.status).toBe(200)
    expect(await errorCodeOf(rejected)).toBe('E_BAD_CSRF_ORIGIN')
    expect(harness.effects).toEqual(['email=a@app.example'])
  })

  test('Origin decides over Referer', async () => {
    const response = await post({ Origin: EVIL, Referer: `${APP}/account` })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
  })

  test('null origin rejected', async () => {
    const response = await post({ Origin: 'null' })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(csrfLogs(harness)[0]?.reason).toBe('null origin')
  })

  test('opaque origins rejected', async () => {
    for (const origin of ['file:///etc/passwd', 'data:text/html,x']) {
      const response = await post({ Origin: origin })

      expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    }
    expect(csrfLogs(harness).map((line) => line.reason)).toEqual(['null origin', 'null origin'])
    expect(harness.effects).toEqual([])
  })

  test('unparseable Origin and Referer rejected', async () => {
    const cases: Record<string, string>[] = [
      { Origin: '' },
      { Origin: 'not a url' },
      { Origin: `${APP}, ${EVIL}` },
      { Referer: '/relative/path' },
    ]
    for (const headers of cases) {
      const response = await post(headers)

      expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    }
    expect(harness.effects).toEqual([])
  })

  test('origin extending own origin rejected', async () => {
    const named = createHarness({}, undefined, 'https://app.example')
    const namedToken = await tokenFor(named, 'a')

    for (const origin of ['https://app.example.evil.example', 'https://app.examplex']) {
      const response = await named.app.request('/account/email', {
        method: 'POST',
        headers: { ...cookieFor('a'), Origin: origin, 'X-CSRF-Token': namedToken },
      })

      expect(await errorCodeOf(response), origin).toBe('E_BAD_CSRF_ORIGIN')
    }
    expect(named.effects).toEqual([])
  })

  test('trusted origin accepted', async () => {
    const response = await post({
      Origin: 'https://admin.app.example',
      'Sec-Fetch-Site': 'same-site',
    })

    expect(response.status).toBe(200)
    expect(harness.effects).toEqual(['email=a@app.example'])
  })

  test('own origin accepted', async () => {
    const response = await post({ Origin: APP, 'Sec-Fetch-Site': 'same-origin' })

    expect(response.status).toBe(200)
  })
})

describe('trusted origins at set-up', () => {
  test('non-origin values raise InvalidSettingsError', () => {
    const invalid = [
      'admin.app.example',
      'https://admin.app.example/',
      'https://admin.app.example/path',
      'https://admin.app.example?x=1',
      'https://user@admin.app.example',
      'HTTPS://ADMIN.APP.EXAMPLE',
      'https://admin.app.example:443',
      'ftp://admin.app.example',
      'null',
    ]
    for (const origin of invalid) {
      expect(() => createHarness({ trustedOrigins: [origin] }), origin).toThrow(
        expect.objectContaining({ code: 'E_INVALID_SETTINGS' }),
      )
    }
  })

  test('origin with port accepted', () => {
    expect(() => createHarness({ trustedOrigins: ['http://127.0.0.1:9000'] })).not.toThrow()
  })
})

describe('session-bound token', () => {
  let harness: Harness

  beforeEach(() => {
    harness = createHarness()
  })

  const postWithToken = (sid: string, token: string | undefined) =>
    harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin(sid),
        ...(token === undefined ? {} : { 'X-CSRF-Token': token }),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example' }),
    })

  test('valid token in header accepted', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await postWithToken('a', token)

    expect(response.status).toBe(200)
    expect(harness.effects).toEqual(['email=a@app.example'])
  })

  test('valid token in form field accepted', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: formBody({ email: 'a@app.example', csrf_token: token }),
    })

    expect(response.status).toBe(200)
    expect(harness.effects).toEqual(['email=a@app.example'])
  })

  test('valid token in multipart field accepted', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'multipart/form-data; boundary=XyZ' },
      body: multipartBody('XyZ', { csrf_token: token, email: 'a@app.example' }),
    })

    expect(response.status).toBe(200)
    // The handler still reads the body after the CSRF layer parsed it.
    expect(harness.effects).toEqual(['email=a@app.example'])
  })

  test('form field with charset parameter accepted', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin('a'),
        'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8',
      },
      body: formBody({ email: 'a@app.example', csrf_token: token }),
    })

    expect(response.status).toBe(200)
  })

  test('field in non-form body ignored', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'text/plain' },
      body: formBody({ email: 'a@app.example', csrf_token: token }),
    })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
    expect(harness.effects).toEqual([])
  })

  test('repeated form field rejected', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `csrf_token=${token}&csrf_token=${token}&email=x`,
    })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
  })

  test('header decides over form field', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin('a'),
        'X-CSRF-Token': 'stale',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example', csrf_token: token }),
    })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
  })

  test('empty header decides over form field', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin('a'),
        'X-CSRF-Token': '',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example', csrf_token: token }),
    })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
  })

  test('missing token rejected', async () => {
    await tokenFor(harness, 'a')

    const response = await postWithToken('a', undefined)

    expect(response.status).toBe(403)
    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
    expect(csrfLogs(harness)[0]?.reason).toBe('missing token')
    expect(harness.effects).toEqual([])
  })

  test('token without session seed rejected', async () => {
    const token = await tokenFor(harness, 'a')

    const response = await postWithToken('b', token)

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
    expect(csrfLogs(harness)[0]?.reason).toBe('no seed in session')
    expect(harness.effects).toEqual([])
  })

  test('token from another session rejected', async () => {
    const tokenOfA = await tokenFor(harness, 'a')
    await tokenFor(harness, 'b')

    const response = await postWithToken('b', tokenOfA)

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
    expect(csrfLogs(harness)[0]?.reason).toBe('token mismatch')
    expect(harness.effects).toEqual([])
  })

  test('tampered token rejected', async () => {
    const token = await tokenFor(harness, 'a')
    // Flip one bit in the masked half: the pad stays, so the unmasked value changes.
    const bytesOfToken = Buffer.from(token, 'base64url')
    bytesOfToken[40] = bytesOfToken[40]! ^ 0x01
    const tampered = bytesOfToken.toString('base64url')
    expect(tampered).not.toBe(token)

    const response = await postWithToken('a', tampered)

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
    expect(csrfLogs(harness)[0]?.reason).toBe('token mismatch')
  })

  test('token of wrong length rejected', async () => {
    const token = await tokenFor(harness, 'a')
    const candidates = [token.slice(0, -1), `${token}A`, token.slice(0, 43), '']

    for (const candidate of candidates) {
      const response = await postWithToken('a', candidate)

      expect(await errorCodeOf(response), candidate).toBe('E_BAD_CSRF_TOKEN')
    }
    expect(harness.effects).toEqual([])
  })

  test('garbage base64 rejected', async () => {
    const token = await tokenFor(harness, 'a')
    // Node's decoder would skip the invalid characters, so each must fail the pattern check.
    const candidates = [
      '!'.repeat(MASKED_TOKEN_LENGTH),
      `${token.slice(0, -2)}==`,
      `${token.slice(0, -1)}+`,
      `${token.slice(0, 10)}.${token.slice(11)}`,
      ` ${token.slice(1)}`,
    ]

    for (const candidate of candidates) {
      expect(candidate).toHaveLength(MASKED_TOKEN_LENGTH)
      const response = await postWithToken('a', candidate)

      expect(await errorCodeOf(response), candidate).toBe('E_BAD_CSRF_TOKEN')
    }
    expect(csrfLogs(harness).map((line) => line.reason)).toEqual(
      candidates.map(() => 'malformed token'),
    )
  })

  test('masked tokens differ and all verify', async () => {
    const tokens = await Promise.all([1, 2, 3, 4, 5].map(() => tokenFor(harness, 'a')))

    expect(new Set(tokens).size).toBe(tokens.length)
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
      expect(token).toHaveLength(MASKED_TOKEN_LENGTH)
      const response = await postWithToken('a', token)
      expect(response.status).toBe(200)
    }
  })

  test('seed created once and marks session modified', async () => {
    await tokenFor(harness, 'a')
    const session = harness.sessions.get('a')!
    const seed = session.get(SEED_KEY)
    expect(typeof seed).toBe('string')
    expect(session.isModified).toBe(true)

    session.resetModified()
    await tokenFor(harness, 'a')

    expect(session.get(SEED_KEY)).toBe(seed)
    expect(session.isModified).toBe(false)
  })

  test('token not stored in session', async () => {
    const token = await tokenFor(harness, 'a')

    const stored = JSON.stringify(harness.sessions.get('a')!.get(SEED_KEY))

    expect(stored).not.toContain(token)
  })

  test('regenerate invalidates old token', async () => {
    const before = await tokenFor(harness, 'a')
    const login = await harness.app.request('/login', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'X-CSRF-Token': before },
    })
    expect(login.status).toBe(200)

    const withOld = await postWithToken('a', before)
    const after = await tokenFor(harness, 'a')
    const withNew = await postWithToken('a', after)

    expect(await errorCodeOf(withOld)).toBe('E_BAD_CSRF_TOKEN')
    expect(withNew.status).toBe(200)
    expect(harness.effects).toEqual(['login', 'email=a@app.example'])
  })

  test('token from another secret rejected', async () => {
    const other = createHarness({ secret: 'another-csrf-secret-0123456789abcdef012345' })
    const foreignToken = await tokenFor(other, 'a')
    await tokenFor(harness, 'a')
    // Same seed in both sessions, so only the secret differs.
    harness.sessions.get('a')!.set(SEED_KEY, other.sessions.get('a')!.get(SEED_KEY))

    const response = await postWithToken('a', foreignToken)

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_TOKEN')
  })

  test('malformed multipart body rejected', async () => {
    await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nunterminated',
    })

    expect(response.status).toBe(400)
    expect(await errorCodeOf(response)).toBe('E_BAD_REQUEST')
    expect(harness.effects).toEqual([])
  })
})

describe('methods', () => {
  test('safe methods pass without checks', async () => {
    const harness = createHarness()
    const hostile = { ...cookieFor('a'), Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' }

    // TRACE is safe too, but the Fetch Request constructor forbids it, so it cannot be sent here.
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const response = await harness.app.request('/data', { method, headers: hostile })

      expect(response.status, method).toBe(200)
    }
    expect(csrfLogs(harness)).toEqual([])
  })

  test('every other method checked', async () => {
    const harness = createHarness()
    await tokenFor(harness, 'a')

    for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND', 'patch']) {
      const response = await harness.app.request('/account', {
        method,
        headers: { ...cookieFor('a'), Origin: EVIL },
      })

      expect(await errorCodeOf(response), method).toBe('E_BAD_CSRF_ORIGIN')
    }
    expect(harness.effects).toEqual([])
  })

  test('other methods pass with origin and token', async () => {
    const harness = createHarness()
    const token = await tokenFor(harness, 'a')

    for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND']) {
      const response = await harness.app.request('/account', {
        method,
        headers: { ...sameOrigin('a'), 'X-CSRF-Token': token },
      })

      expect(response.status, method).toBe(200)
    }
  })
})

describe('exemptions', () => {
  test('exempt route passes and logs at set-up', async () => {
    const harness = createHarness({}, (protection) => {
      protection.exempt('post', '/webhooks/x', 'signed by the sender')
    })

    expect(harness.setupLogs).toHaveLength(1)
    expect(harness.setupLogs[0]).toMatchObject({
      level: 40,
      layer: 'csrf',
      method: 'POST',
      path: '/webhooks/x',
      reason: 'signed by the sender',
      msg: 'CSRF protection disabled for POST /webhooks/x: signed by the sender',
    })

    const response = await harness.app.request('/webhooks/x', {
      method: 'POST',
      headers: { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'application/json' },
      body: '{}',
    })

    expect(response.status).toBe(200)
    expect(harness.effects).toEqual(['webhook'])
  })

  test('exemption matches exact method and path', async () => {
    const harness = createHarness({}, (protection) => {
      protection.exempt('POST', '/webhooks/x', 'signed by the sender')
    })
    const hostile = { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' }

    const otherMethod = await harness.app.request('/webhooks/x', {
      method: 'PUT',
      headers: hostile,
    })
    const trailingSlash = await harness.app.request('/webhooks/x/', {
      method: 'POST',
      headers: hostile,
    })

    expect(await errorCodeOf(otherMethod)).toBe('E_BAD_CSRF_ORIGIN')
    expect(await errorCodeOf(trailingSlash)).toBe('E_BAD_CSRF_ORIGIN')
    expect(harness.effects).toEqual([])
  })

  test('invalid exemptions raise InvalidSettingsError', () => {
    const attempts: [string, string, string][] = [
      ['GET', '/webhooks/x', 'never checked'],
      ['POST', 'webhooks/x', 'relative path'],
      ['POST', '/webhooks/x', '  '],
    ]
    for (const [method, path, reason] of attempts) {
      expect(() =>
        createHarness({}, (protection) => protection.exempt(method, path, reason)),
      ).toThrow(expect.objectContaining({ code: 'E_INVALID_SETTINGS' }))
    }
  })
})

describe('token delivery to htmx', () => {
  let harness: Harness

  beforeEach(() => {
    harness = createHarness()
  })

  const postAsHtmx = (sid: string, token: string) =>
    harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin(sid),
        'HX-Request': 'true',
        'X-CSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example' }),
    })

  test('htmx response carries valid token', async () => {
    await tokenFor(harness, 'a')
    const response = await harness.app.request('/data', {
      headers: { ...cookieFor('a'), 'HX-Request': 'true' },
    })
    const token = response.headers.get('X-CSRF-Token')

    expect(token).toHaveLength(MASKED_TOKEN_LENGTH)
    expect(response.headers.get('Cache-Control')).toBe('private, no-cache')
    expect((await postAsHtmx('a', token!)).status).toBe(200)
  })

  test('HTML response of seeded session carries token', async () => {
    await tokenFor(harness, 'a')

    const response = await harness.app.request('/plain-page', { headers: cookieFor('a') })

    expect(response.headers.get('X-CSRF-Token')).toHaveLength(MASKED_TOKEN_LENGTH)
  })

  test('htmx response of an untouched session carries no token', async () => {
    const response = await harness.app.request('/data', {
      headers: { ...cookieFor('fresh'), 'HX-Request': 'true' },
    })

    expect(response.headers.get('X-CSRF-Token')).toBeNull()
  })

  test('non-htmx responses without seed carry no token', async () => {
    const page = await harness.app.request('/plain-page', { headers: cookieFor('a') })
    const data = await harness.app.request('/data', { headers: cookieFor('a') })

    expect(page.headers.get('X-CSRF-Token')).toBeNull()
    expect(data.headers.get('X-CSRF-Token')).toBeNull()
    expect(harness.sessions.get('a')!.has(SEED_KEY)).toBe(false)
  })

  test('JSON response of seeded session carries no token', async () => {
    await tokenFor(harness, 'a')

    const data = await harness.app.request('/data', { headers: cookieFor('a') })

    expect(data.headers.get('X-CSRF-Token')).toBeNull()
  })

  test('stale htmx token answered with fresh token', async () => {
    const stale = await tokenFor(harness, 'a')
    harness.sessions.get('a')!.regenerate()
    await tokenFor(harness, 'a')

    const rejected = await postAsHtmx('a', stale)
    const fresh = rejected.headers.get('X-CSRF-Token')
    const retried = await postAsHtmx('a', fresh!)

    expect(await errorCodeOf(rejected)).toBe('E_BAD_CSRF_TOKEN')
    expect(fresh).toHaveLength(MASKED_TOKEN_LENGTH)
    expect(retried.status).toBe(200)
  })

  test('cross-origin rejection carries no token', async () => {
    await tokenFor(harness, 'a')

    const response = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...cookieFor('a'), Origin: EVIL, 'HX-Request': 'true' },
    })

    expect(await errorCodeOf(response)).toBe('E_BAD_CSRF_ORIGIN')
    expect(response.headers.get('X-CSRF-Token')).toBeNull()
  })

  // Boosted navigation swaps only the body's content, so the token must reach htmx in
  // a response header and stay valid until the session is regenerated.
  test('token survives boosted navigation and login', async () => {
    const pageA = await harness.app.request('/page', { headers: cookieFor('a') })
    const tokenOfPageA = /content="([^"]+)"/.exec(await pageA.text())![1]!

    const pageB = await harness.app.request('/page', {
      headers: { ...cookieFor('a'), 'HX-Request': 'true', 'HX-Boosted': 'true' },
    })
    const tokenOfPageB = pageB.headers.get('X-CSRF-Token')!
    expect((await postAsHtmx('a', tokenOfPageA)).status).toBe(200)
    expect((await postAsHtmx('a', tokenOfPageB)).status).toBe(200)

    const login = await harness.app.request('/login', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'HX-Request': 'true', 'X-CSRF-Token': tokenOfPageB },
    })
    const tokenAfterLogin = login.headers.get('X-CSRF-Token')!
    expect(login.status).toBe(200)

    const boosted = await harness.app.request('/page', {
      headers: { ...cookieFor('a'), 'HX-Request': 'true', 'HX-Boosted': 'true' },
    })
    const tokenAfterNavigation = boosted.headers.get('X-CSRF-Token')!

    expect(await errorCodeOf(await postAsHtmx('a', tokenOfPageB))).toBe('E_BAD_CSRF_TOKEN')
    expect((await postAsHtmx('a', tokenAfterLogin)).status).toBe(200)
    expect((await postAsHtmx('a', tokenAfterNavigation)).status).toBe(200)

    await tokenFor(harness, 'b')
    expect(await errorCodeOf(await postAsHtmx('b', tokenAfterNavigation))).toBe('E_BAD_CSRF_TOKEN')
  })
})

describe('rejection log', () => {
  test('one line with reason and request id', async () => {
    const harness = createHarness()
    const token = await tokenFor(harness, 'a')

    await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...cookieFor('b'), Origin: APP, 'X-CSRF-Token': token },
    })

    const lines = csrfLogs(harness)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 40,
      layer: 'csrf',
      reason: 'no seed in session',
      requestId: 'req-2',
      method: 'POST',
      path: '/account/email',
    })
    expect(JSON.stringify(harness.requestLogs)).not.toContain(token)
    expect(JSON.stringify(harness.requestLogs)).not.toContain(SECRET)
  })
})

describe('set-up', () => {
  test('short secret raises WeakSecretError', () => {
    expect(() => createHarness({ secret: 'too-short' })).toThrow(
      expect.objectContaining({ code: 'E_WEAK_SECRET', setting: 'csrf_secret' }),
    )
  })

  test('custom field and header names used', async () => {
    const harness = createHarness({ formField: '_token', headerName: 'X-XSRF-Token' })
    const token = await tokenFor(harness, 'a')

    const byField = await harness.app.request('/account/email', {
      method: 'POST',
      headers: { ...sameOrigin('a'), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: formBody({ _token: token, email: 'a@app.example' }),
    })
    const byHeader = await harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin('a'),
        'X-XSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example' }),
    })
    const byDefaultHeader = await harness.app.request('/account/email', {
      method: 'POST',
      headers: {
        ...sameOrigin('a'),
        'X-CSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ email: 'a@app.example' }),
    })

    expect(byField.status).toBe(200)
    expect(byHeader.status).toBe(200)
    expect(await errorCodeOf(byDefaultHeader)).toBe('E_BAD_CSRF_TOKEN')
  })
})
