import { Hono } from 'hono'
import { decodeProtectedHeader } from 'jose'
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { FastBlocksError, toFastBlocksError } from '../errors/index.ts'
import {
  createKeyring,
  sealSession,
  session,
  unsealSession,
  type SessionOptions,
  type SessionPayload,
} from './index.ts'

const SECRET = 'test-session-secret-0123456789abcdef'
const OLD_SECRET = 'old-session-secret-0123456789abcdef'
const OTHER_SECRET = 'other-app-secret-0123456789abcdefgh'

// 2027-01-15T08:00:00Z, a whole second, in milliseconds.
const START_MS = 1_800_000_000_000
const IDLE_TIMEOUT = 600
const MAX_AGE = 3600

interface LogLine {
  level: number
  layer?: string
  reason?: string
  requestId?: string
  msg?: string
}

/**
 * Builds a Hono app with a logger, the session layer and routes that read and change the
 * session, plus a clock the test moves forward.
 */
function createTestApp(overrides: Partial<SessionOptions> = {}) {
  const clock = { nowMs: START_MS }
  const logs: LogLine[] = []
  const logger = pino(
    { level: 'debug', base: undefined },
    { write: (line: string) => logs.push(JSON.parse(line) as LogLine) },
  )

  const app = new Hono<FastBlocksEnv>()
  app.onError((error, c) => {
    const failure = toFastBlocksError(error)
    return c.json({ code: failure.code }, failure.status as 500)
  })
  app.use(async (c, next) => {
    c.set('requestId', 'req-test')
    c.set('logger', logger.child({ requestId: 'req-test' }))
    await next()
  })
  app.use(
    session({
      secrets: [SECRET],
      maxAge: MAX_AGE,
      idleTimeout: IDLE_TIMEOUT,
      now: () => clock.nowMs,
      ...overrides,
    }),
  )

  app.get('/read', (c) => {
    const current = c.var.session
    return c.json({
      isNew: current.isNew,
      user: current.get('user') ?? null,
      csrf: current.get('_csrf') ?? null,
    })
  })
  app.post('/login', (c) => {
    c.var.session.set('user', c.req.query('user') ?? 'alice')
    c.var.session.set('_csrf', 'csrf-seed-value')
    return c.text('ok')
  })
  app.post('/logout', (c) => {
    c.var.session.clear()
    return c.text('ok')
  })
  app.post('/regenerate', (c) => {
    c.var.session.regenerate()
    return c.text('ok')
  })
  app.post('/flash', (c) => {
    c.var.session.flash('success', 'Saved')
    return c.text('ok')
  })
  app.get('/flash', (c) => c.json(c.var.session.consumeFlash()))
  app.post('/blob', (c) => {
    c.var.session.set('blob', 'x'.repeat(Number(c.req.query('length'))))
    return c.text('ok')
  })
  app.post('/prototype', (c) => {
    c.var.session.set('__proto__', { polluted: true })
    return c.text('ok')
  })
  app.get('/prototype', (c) => {
    const stored = c.var.session.get<{ polluted: boolean }>('__proto__')
    return c.json({ stored, polluted: ({} as Record<string, unknown>).polluted ?? null })
  })

  async function request(path: string, cookie?: string, method = 'GET') {
    const headers: Record<string, string> = cookie === undefined ? {} : { Cookie: cookie }
    return app.request(path, { method, headers })
  }

  return {
    app,
    logs,
    request,
    advanceSeconds(seconds: number) {
      clock.nowMs += seconds * 1000
    },
  }
}

function setCookiesOf(response: Response): string[] {
  return response.headers.getSetCookie()
}

/** Value of the single Set-Cookie of the response, for the given cookie name. */
function cookieValueOf(response: Response, name = 'session'): string {
  const setCookies = setCookiesOf(response)
  expect(setCookies).toHaveLength(1)
  const [setCookie] = setCookies as [string]
  expect(setCookie.startsWith(`${name}=`)).toBe(true)
  return setCookie.slice(name.length + 1, setCookie.indexOf(';'))
}

function isDeletion(setCookie: string | undefined, name = 'session'): boolean {
  return (
    setCookie !== undefined && setCookie.startsWith(`${name}=;`) && /Max-Age=0\b/.test(setCookie)
  )
}

async function payloadOf(sealed: string, secrets = [SECRET]): Promise<SessionPayload> {
  const result = await unsealSession(sealed, await createKeyring(secrets))
  if (!result.ok) throw new Error(`cookie did not unseal: ${result.reason}`)
  return result.payload
}

async function logIn(testApp: ReturnType<typeof createTestApp>): Promise<string> {
  const response = await testApp.request('/login', undefined, 'POST')
  expect(response.status).toBe(200)
  return cookieValueOf(response)
}

async function readSession(response: Response) {
  expect(response.status).toBe(200)
  return (await response.json()) as { isNew: boolean; user: string | null; csrf: string | null }
}

function rejectionsOf(logs: LogLine[]): LogLine[] {
  return logs.filter((line) => line.layer === 'session')
}

describe('session middleware', () => {
  test('round trip through a cookie', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)

    const body = await readSession(await testApp.request('/read', `session=${sealed}`))
    expect(body).toEqual({ isNew: false, user: 'alice', csrf: 'csrf-seed-value' })
  })

  test('new session without writes sets no cookie', async () => {
    const testApp = createTestApp()
    const response = await testApp.request('/read')
    expect(await readSession(response)).toEqual({ isNew: true, user: null, csrf: null })
    expect(setCookiesOf(response)).toEqual([])
  })

  test('unchanged session sets no cookie', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    testApp.advanceSeconds(30)
    const response = await testApp.request('/read', `session=${sealed}`)
    expect((await readSession(response)).user).toBe('alice')
    expect(setCookiesOf(response)).toEqual([])
  })

  test('cookie reveals no plaintext', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    const views = [sealed, ...sealed.split('.').map((part) => Buffer.from(part, 'base64url'))]
    for (const view of views) {
      const text = typeof view === 'string' ? view : view.toString('latin1')
      for (const plaintext of ['alice', 'user', '_csrf', 'csrf-seed-value', SECRET]) {
        expect(text).not.toContain(plaintext)
      }
    }
  })

  test('cookie attributes in development', async () => {
    const testApp = createTestApp()
    const response = await testApp.request('/login', undefined, 'POST')
    const [setCookie] = setCookiesOf(response)
    expect(setCookie).toMatch(/^session=[A-Za-z0-9_.-]+; /)
    expect(setCookie).toContain('; Max-Age=600')
    expect(setCookie).toContain('; Path=/')
    expect(setCookie).toContain('; HttpOnly')
    expect(setCookie).toContain('; SameSite=Lax')
    expect(setCookie).not.toContain('Secure')
    expect(setCookie).not.toContain('Domain')
  })

  test('cookie attributes in production', async () => {
    const testApp = createTestApp({ secure: true, hostPrefix: true })
    const response = await testApp.request('/login', undefined, 'POST')
    const [setCookie] = setCookiesOf(response)
    expect(setCookie).toMatch(/^__Host-session=[A-Za-z0-9_.-]+; /)
    expect(setCookie).toContain('; Secure')
    expect(setCookie).toContain('; HttpOnly')
    expect(setCookie).toContain('; SameSite=Lax')
    expect(setCookie).toContain('; Path=/')
    expect(setCookie).not.toContain('Domain')

    const sealed = cookieValueOf(response, '__Host-session')
    const read = await testApp.request('/read', `__Host-session=${sealed}`)
    expect((await readSession(read)).user).toBe('alice')
  })

  test('production ignores the unprefixed cookie', async () => {
    const testApp = createTestApp({ secure: true, hostPrefix: true })
    const sealed = cookieValueOf(
      await testApp.request('/login', undefined, 'POST'),
      '__Host-session',
    )
    const response = await testApp.request('/read', `session=${sealed}`)
    expect((await readSession(response)).isNew).toBe(true)
    expect(setCookiesOf(response)).toEqual([])
  })

  test('custom cookie name', async () => {
    const testApp = createTestApp({ cookieName: 'app_session' })
    const sealed = cookieValueOf(await testApp.request('/login', undefined, 'POST'), 'app_session')
    const body = await readSession(await testApp.request('/read', `app_session=${sealed}`))
    expect(body.user).toBe('alice')
  })

  test('__proto__ key is stored as data', async () => {
    const testApp = createTestApp()
    const sealed = cookieValueOf(await testApp.request('/prototype', undefined, 'POST'))
    const response = await testApp.request('/prototype', `session=${sealed}`)
    expect(await response.json()).toEqual({ stored: { polluted: true }, polluted: null })
  })
})

describe('session tampering and keys', () => {
  const partNames = ['header', 'iv', 'ciphertext', 'tag'] as const
  const partIndexes = { header: 0, iv: 2, ciphertext: 3, tag: 4 }

  for (const partName of partNames) {
    test(`changed ${partName} gives a new session`, async () => {
      const testApp = createTestApp()
      const sealed = await logIn(testApp)
      const parts = sealed.split('.')
      const index = partIndexes[partName]
      const part = parts[index] as string
      const middle = Math.floor(part.length / 2)
      parts[index] =
        part.slice(0, middle) + (part[middle] === 'A' ? 'B' : 'A') + part.slice(middle + 1)

      const response = await testApp.request('/read', `session=${parts.join('.')}`)
      expect(await readSession(response)).toEqual({ isNew: true, user: null, csrf: null })
      expect(isDeletion(setCookiesOf(response)[0])).toBe(true)

      const rejections = rejectionsOf(testApp.logs)
      expect(rejections).toHaveLength(1)
      expect(['malformed', 'unknown_key', 'decryption_failed']).toContain(rejections[0]?.reason)
      expect(rejections[0]?.requestId).toBe('req-test')
    })
  }

  test('rejection log contains no cookie value', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('AAA') ? 'BBB' : 'AAA')
    await testApp.request('/read', `session=${tampered}`)
    const logged = JSON.stringify(testApp.logs)
    expect(rejectionsOf(testApp.logs)).toHaveLength(1)
    expect(logged).not.toContain(tampered)
    expect(logged).not.toContain(tampered.split('.')[3])
    expect(logged).not.toContain(SECRET)
  })

  test('rotation reads an old-key cookie and seals with the new key', async () => {
    const oldApp = createTestApp({ secrets: [OLD_SECRET] })
    const oldSealed = await logIn(oldApp)
    const rotatedApp = createTestApp({ secrets: [SECRET, OLD_SECRET] })

    const response = await rotatedApp.request('/read', `session=${oldSealed}`)
    expect((await readSession(response)).user).toBe('alice')
    const resealed = cookieValueOf(response)
    const newKeyring = await createKeyring([SECRET])
    expect(decodeProtectedHeader(resealed).kid).toBe(newKeyring.current.kid)
    expect(decodeProtectedHeader(oldSealed).kid).not.toBe(newKeyring.current.kid)

    // Once the old secret is retired, the re-sealed cookie still works.
    const retiredApp = createTestApp({ secrets: [SECRET] })
    const body = await readSession(await retiredApp.request('/read', `session=${resealed}`))
    expect(body.user).toBe('alice')
  })

  test('retired key gives a new session', async () => {
    const oldApp = createTestApp({ secrets: [OLD_SECRET] })
    const oldSealed = await logIn(oldApp)
    const testApp = createTestApp({ secrets: [SECRET] })

    const response = await testApp.request('/read', `session=${oldSealed}`)
    expect((await readSession(response)).isNew).toBe(true)
    expect(isDeletion(setCookiesOf(response)[0])).toBe(true)
    expect(rejectionsOf(testApp.logs).map((line) => line.reason)).toEqual(['unknown_key'])
  })

  test('cookie of another app gives a new session', async () => {
    const otherApp = createTestApp({ secrets: [OTHER_SECRET] })
    const foreignSealed = await logIn(otherApp)
    const testApp = createTestApp()

    const response = await testApp.request('/read', `session=${foreignSealed}`)
    expect((await readSession(response)).isNew).toBe(true)
    expect(rejectionsOf(testApp.logs).map((line) => line.reason)).toEqual(['unknown_key'])
  })
})

describe('session expiry', () => {
  test('idle timeout expires the session', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)

    testApp.advanceSeconds(IDLE_TIMEOUT)
    const response = await testApp.request('/read', `session=${sealed}`)
    expect(await readSession(response)).toEqual({ isNew: true, user: null, csrf: null })
    expect(isDeletion(setCookiesOf(response)[0])).toBe(true)

    const rejections = rejectionsOf(testApp.logs)
    expect(rejections.map((line) => line.reason)).toEqual(['expired_idle'])
    expect(rejections[0]?.requestId).toBe('req-test')
  })

  test('session just inside the idle timeout is read', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    testApp.advanceSeconds(IDLE_TIMEOUT - 1)
    const body = await readSession(await testApp.request('/read', `session=${sealed}`))
    expect(body.user).toBe('alice')
  })

  test('last-seen refresh happens after 60 seconds', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)

    testApp.advanceSeconds(59)
    const early = await testApp.request('/read', `session=${sealed}`)
    expect(setCookiesOf(early)).toEqual([])

    testApp.advanceSeconds(1)
    const refreshed = cookieValueOf(await testApp.request('/read', `session=${sealed}`))
    const before = await payloadOf(sealed)
    const after = await payloadOf(refreshed)
    expect(after.lastSeenAt).toBe(before.lastSeenAt + 60)
    expect(after.createdAt).toBe(before.createdAt)
    expect(after.data).toEqual(before.data)
  })

  test('refresh interval is a tenth of a short idle timeout', async () => {
    const testApp = createTestApp({ idleTimeout: 100 })
    const sealed = await logIn(testApp)
    testApp.advanceSeconds(9)
    expect(setCookiesOf(await testApp.request('/read', `session=${sealed}`))).toEqual([])
    testApp.advanceSeconds(1)
    expect(setCookiesOf(await testApp.request('/read', `session=${sealed}`))).toHaveLength(1)
  })

  test('activity keeps the session past the idle timeout', async () => {
    const testApp = createTestApp()
    let sealed = await logIn(testApp)
    for (let step = 0; step < 4; step++) {
      testApp.advanceSeconds(IDLE_TIMEOUT / 2)
      const response = await testApp.request('/read', `session=${sealed}`)
      expect((await readSession(response)).user).toBe('alice')
      sealed = cookieValueOf(response)
    }
  })

  test('absolute lifetime expires an active session', async () => {
    const testApp = createTestApp()
    let sealed = await logIn(testApp)
    const stepSeconds = IDLE_TIMEOUT / 2
    for (let elapsed = stepSeconds; elapsed < MAX_AGE; elapsed += stepSeconds) {
      testApp.advanceSeconds(stepSeconds)
      const response = await testApp.request('/read', `session=${sealed}`)
      expect((await readSession(response)).user).toBe('alice')
      sealed = cookieValueOf(response)
    }

    testApp.advanceSeconds(stepSeconds)
    const response = await testApp.request('/read', `session=${sealed}`)
    expect((await readSession(response)).isNew).toBe(true)
    expect(isDeletion(setCookiesOf(response)[0])).toBe(true)
    expect(rejectionsOf(testApp.logs).map((line) => line.reason)).toEqual(['expired_max_age'])
  })

  test('cookie Max-Age ends with the absolute lifetime', async () => {
    const testApp = createTestApp()
    let sealed = await logIn(testApp)
    const target = MAX_AGE - 100
    // Requests every 300 s keep the session alive until 100 s before its absolute end.
    for (let elapsed = 0; elapsed < target;) {
      const step = Math.min(IDLE_TIMEOUT / 2, target - elapsed)
      testApp.advanceSeconds(step)
      elapsed += step
      sealed = cookieValueOf(await testApp.request('/read', `session=${sealed}`))
    }
    const response = await testApp.request('/login', `session=${sealed}`, 'POST')
    expect(setCookiesOf(response)[0]).toContain('; Max-Age=100;')
  })
})

describe('session methods', () => {
  test('clear deletes the cookie', async () => {
    const testApp = createTestApp({ secure: true, hostPrefix: true })
    const sealed = cookieValueOf(
      await testApp.request('/login', undefined, 'POST'),
      '__Host-session',
    )

    const response = await testApp.request('/logout', `__Host-session=${sealed}`, 'POST')
    expect(setCookiesOf(response)).toEqual([
      '__Host-session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
    ])
  })

  test('clear without a cookie sets none', async () => {
    const testApp = createTestApp()
    const response = await testApp.request('/logout', undefined, 'POST')
    expect(setCookiesOf(response)).toEqual([])
  })

  test('regenerate drops the CSRF seed and keeps values', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    testApp.advanceSeconds(30)

    const regenerated = cookieValueOf(
      await testApp.request('/regenerate', `session=${sealed}`, 'POST'),
    )
    const body = await readSession(await testApp.request('/read', `session=${regenerated}`))
    expect(body).toEqual({ isNew: false, user: 'alice', csrf: null })

    const before = await payloadOf(sealed)
    const after = await payloadOf(regenerated)
    expect(after.createdAt).toBe(before.createdAt + 30)
  })

  test('flash is shown once', async () => {
    const testApp = createTestApp()
    const flashed = cookieValueOf(await testApp.request('/flash', undefined, 'POST'))

    const first = await testApp.request('/flash', `session=${flashed}`)
    expect(await first.json()).toEqual([{ type: 'success', text: 'Saved' }])
    // The flash was the only value, so consuming it empties the session and deletes the cookie.
    expect(isDeletion(setCookiesOf(first)[0])).toBe(true)

    const again = await testApp.request('/flash', `session=${flashed}`)
    expect(await again.json()).toEqual([{ type: 'success', text: 'Saved' }])
  })

  test('consumed flash leaves other values', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    const flashed = cookieValueOf(await testApp.request('/flash', `session=${sealed}`, 'POST'))
    const consumed = await testApp.request('/flash', `session=${flashed}`)
    expect(await consumed.json()).toEqual([{ type: 'success', text: 'Saved' }])

    const remaining = cookieValueOf(consumed)
    expect((await payloadOf(remaining)).data).toEqual({ user: 'alice', _csrf: 'csrf-seed-value' })
    const empty = await testApp.request('/flash', `session=${remaining}`)
    expect(await empty.json()).toEqual([])
  })

  test('oversized session raises SessionTooLargeError', async () => {
    const testApp = createTestApp()
    const response = await testApp.request('/blob?length=3000', undefined, 'POST')
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ code: 'E_SESSION_TOO_LARGE' })
    expect(setCookiesOf(response)).toEqual([])
  })

  test('session under the cookie limit is sent', async () => {
    const testApp = createTestApp()
    const response = await testApp.request('/blob?length=2800', undefined, 'POST')
    expect(response.status).toBe(200)
    const [setCookie] = setCookiesOf(response)
    expect(setCookie?.length).toBeLessThanOrEqual(4096)
  })
})

describe('malformed cookie headers', () => {
  test('valid session read beside bad cookies', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    const manyCookies = Array.from({ length: 200 }, (_, index) => `c${index}=v${index}`).join('; ')
    const headers = [
      `a=%; session=${sealed}`,
      `a=%E0%A4%A; session=${sealed}`,
      `session=${sealed}; session=garbage`,
      `__proto__=x; constructor=y; session=${sealed}`,
      `${manyCookies}; session=${sealed}`,
      `junk; =; ;;session=${sealed}`,
    ]
    for (const header of headers) {
      const response = await testApp.request('/read', header)
      expect(response.status, header.slice(0, 40)).toBe(200)
      expect((await readSession(response)).user, header.slice(0, 40)).toBe('alice')
      expect(setCookiesOf(response), header.slice(0, 40)).toEqual([])
    }
    expect(rejectionsOf(testApp.logs)).toEqual([])
  })

  test('invalid session cookie gives a new session and is deleted', async () => {
    const testApp = createTestApp()
    const sealed = await logIn(testApp)
    const cases = [
      { header: 'session=%', reason: 'malformed' },
      { header: 'session=not.a.valid.seal', reason: 'malformed' },
      { header: `session=${'A'.repeat(5000)}`, reason: 'oversized' },
      { header: `session=garbage; session=${sealed}`, reason: 'malformed' },
      { header: 'session=', reason: 'malformed' },
      { header: 'session="quoted.value"', reason: 'malformed' },
    ]
    for (const { header, reason } of cases) {
      testApp.logs.length = 0
      const response = await testApp.request('/read', header)
      expect(response.status, header.slice(0, 40)).toBe(200)
      expect(await readSession(response), header.slice(0, 40)).toEqual({
        isNew: true,
        user: null,
        csrf: null,
      })
      expect(isDeletion(setCookiesOf(response)[0]), header.slice(0, 40)).toBe(true)
      expect(rejectionsOf(testApp.logs).map((line) => line.reason)).toEqual([reason])
    }
  })

  test('unrelated cookies alone give a new session', async () => {
    const testApp = createTestApp()
    const manyCookies = Array.from({ length: 200 }, (_, index) => `c${index}=%${index}`).join('; ')
    for (const header of ['__proto__=x; constructor=y', manyCookies, 'a=%', ';;;', '=']) {
      const response = await testApp.request('/read', header)
      expect(response.status).toBe(200)
      expect((await readSession(response)).isNew).toBe(true)
      expect(setCookiesOf(response)).toEqual([])
    }
  })
})

describe('session factory', () => {
  function errorCodeOf(options: SessionOptions): string | undefined {
    try {
      session(options)
    } catch (error) {
      return error instanceof FastBlocksError ? error.code : 'not a FastBlocksError'
    }
    return undefined
  }

  test('rejects weak secrets at set-up', () => {
    expect(errorCodeOf({ secrets: [] })).toBe('E_WEAK_SECRET')
    expect(errorCodeOf({ secrets: ['too-short'] })).toBe('E_WEAK_SECRET')
    expect(errorCodeOf({ secrets: [SECRET, 'too-short'] })).toBe('E_WEAK_SECRET')
  })

  test('rejects invalid options at set-up', () => {
    expect(errorCodeOf({ secrets: [SECRET], hostPrefix: true })).toBe('E_INVALID_SETTINGS')
    expect(errorCodeOf({ secrets: [SECRET], cookieName: 'bad name' })).toBe('E_INVALID_SETTINGS')
    expect(errorCodeOf({ secrets: [SECRET], cookieName: 'a;b' })).toBe('E_INVALID_SETTINGS')
    expect(errorCodeOf({ secrets: [SECRET], maxAge: 0 })).toBe('E_INVALID_SETTINGS')
    expect(errorCodeOf({ secrets: [SECRET], idleTimeout: -1 })).toBe('E_INVALID_SETTINGS')
    expect(errorCodeOf({ secrets: [SECRET], idleTimeout: 1.5 })).toBe('E_INVALID_SETTINGS')
  })

  test('accepts defaults', () => {
    expect(errorCodeOf({ secrets: [SECRET] })).toBeUndefined()
  })

  test('sealSession output is read by the middleware', async () => {
    const testApp = createTestApp()
    const nowSeconds = START_MS / 1000
    const sealed = await sealSession(
      { data: { user: 'bob' }, createdAt: nowSeconds, lastSeenAt: nowSeconds },
      await createKeyring([SECRET]),
    )
    const body = await readSession(await testApp.request('/read', `session=${sealed}`))
    expect(body.user).toBe('bob')
  })
})
