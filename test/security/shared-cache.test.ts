import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'

// A response that carries the session cookie or a CSRF token belongs to one visitor. When a
// shared cache (a CDN or a reverse proxy) may store it, the next visitor receives the first
// one's session or token. Static files are marked `public`, and a static request can renew
// the session cookie (after a key rotation, or when the last-seen time is due for a refresh)
// or, sent by htmx, receive a token and a new session.

const previousSecret = randomBytes(32).toString('base64url')
const currentSecret = randomBytes(32).toString('base64url')
const csrfSecret = randomBytes(32).toString('base64url')

let before: RunningFixture
let after: RunningFixture
let sessionCookie: string

function production(app: Record<string, unknown>) {
  return startFixture({ env: 'production', overrides: { app: { log_level: 'info', ...app } } })
}

beforeAll(async () => {
  before = await production({ session_secret: previousSecret, csrf_secret: csrfSecret })
  const page = await fetch(`${before.url}/`)
  sessionCookie = page.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0])
    .join('; ')
  // The same application after a rotation: the old key still unseals, and every cookie it
  // sealed is sealed again with the new key on the next request.
  after = await production({
    session_secret: currentSecret,
    session_previous_secrets: [previousSecret],
    csrf_secret: csrfSecret,
  })
})

afterAll(async () => {
  await before?.close()
  await after?.close()
})

function isPublic(response: Response): boolean {
  return /(?:^|,)\s*public\s*(?:,|$)/i.test(response.headers.get('Cache-Control') ?? '')
}

function sharedCacheMayStoreCookie(response: Response): boolean {
  return response.headers.getSetCookie().length > 0 && isPublic(response)
}

function sharedCacheMayStoreToken(response: Response): boolean {
  return response.headers.has('X-CSRF-Token') && isPublic(response)
}

describe('session cookie on static files', () => {
  test('visitor has a session cookie', () => {
    expect(sessionCookie).toMatch(/^__Host-session=/)
  })

  test('static renewal of session is not public', async () => {
    const response = await fetch(`${after.url}/static/site.css`, {
      headers: { Cookie: sessionCookie },
    })
    expect(sharedCacheMayStoreCookie(response)).toBe(false)
  })

  test('static 304 renewing session is not public', async () => {
    const first = await fetch(`${after.url}/static/site.css`)
    const etag = first.headers.get('ETag') ?? ''
    const response = await fetch(`${after.url}/static/site.css`, {
      headers: { Cookie: sessionCookie, 'If-None-Match': etag },
    })
    expect(sharedCacheMayStoreCookie(response)).toBe(false)
  })
})

describe('htmx request for a static file', () => {
  test('new visitor gets no public cookie', async () => {
    const response = await fetch(`${after.url}/static/site.css`, {
      headers: { 'HX-Request': 'true' },
    })
    expect(sharedCacheMayStoreCookie(response)).toBe(false)
  })

  test('visitor gets no public token', async () => {
    const page = await fetch(`${after.url}/`)
    const cookie = page.headers
      .getSetCookie()
      .map((value) => value.split(';')[0])
      .join('; ')
    const response = await fetch(`${after.url}/static/site.css`, {
      headers: { Cookie: cookie, 'HX-Request': 'true' },
    })
    expect(sharedCacheMayStoreToken(response)).toBe(false)
  })
})
