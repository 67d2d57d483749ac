import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'
import { rawRequest } from '../helpers/http.ts'

// Guards and the router must act on one path: no spelling of a guarded path reaches the
// handler or the file behind the guard.

let fixture: RunningFixture

beforeAll(async () => {
  fixture = await startFixture()
})

afterAll(async () => {
  await fixture?.close()
})

const ADMIN_VARIANTS = [
  '/ADMIN/users',
  '/Admin/users',
  '/admin/users/',
  '/admin//users',
  '/admin/./users',
  '/%61dmin/users',
  '/admin%2Fusers',
  '/admin%2fusers',
  '/x/../admin/users',
  '/admin\\users',
]

const STATIC_VARIANTS = [
  '/static/admin%2Fsecret.txt',
  '/static/admin%2fsecret.txt',
  '/static//admin/secret.txt',
  '//static/admin/secret.txt',
  '/static/admin%5Csecret.txt',
  '/static/./admin/secret.txt',
  '/static/x/../admin/secret.txt',
  '/static/%61dmin/secret.txt',
  '/static/ADMIN/secret.txt',
  '/static/admin/%2e%2e/admin/secret.txt',
  '/static/admin/secret.txt%00',
]

describe('guarded routes', () => {
  test('control is redirected to login', async () => {
    const response = await rawRequest(fixture.url, '/admin/users')
    expect(response.status).toBe(302)
  })

  for (const path of ADMIN_VARIANTS) {
    test(`variant ${path} never serves the list`, async () => {
      const response = await rawRequest(fixture.url, path)
      expect([302, 400, 401, 404]).toContain(response.status)
      expect(response.body).not.toContain('user list')
    })
  }
})

describe('non-canonical paths', () => {
  // Hono would answer most of these with 404 on its own; the request context rejects them
  // with 400 before any router or guard runs, whatever routes the application has.
  const shapes = [
    '/admin//users',
    '/admin%2Fusers',
    '/admin%5Cusers',
    '/admin/%2e%2e/admin/users',
    '/admin/users%00',
  ]

  for (const path of shapes) {
    test(`${path} gets 400 with its code`, async () => {
      const response = await rawRequest(fixture.url, path)
      expect(response.status).toBe(400)
      const requestId = String(response.headers['x-request-id'])
      const rejection = fixture.logs.lines.find((line) => line.requestId === requestId)
      expect(rejection?.code).toBe('E_NON_CANONICAL_PATH')
    })
  }
})

describe('guarded static files', () => {
  test('control is redirected to login', async () => {
    const response = await rawRequest(fixture.url, '/static/admin/secret.txt')
    expect(response.status).toBe(302)
    expect(response.body).not.toContain('TOP-SECRET')
  })

  for (const path of STATIC_VARIANTS) {
    test(`variant ${path} never serves the file`, async () => {
      const response = await rawRequest(fixture.url, path)
      expect([302, 400, 401, 404]).toContain(response.status)
      expect(response.body).not.toContain('TOP-SECRET')
    })
  }

  test('logged-in user gets the file', async () => {
    const page = await fetch(`${fixture.url}/`)
    const html = await page.text()
    const token = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] ?? ''
    const cookie = page.headers
      .getSetCookie()
      .map((value) => value.split(';')[0])
      .join('; ')
    const login = await fetch(`${fixture.url}/login`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: fixture.url, 'X-CSRF-Token': token },
    })
    const session = login.headers
      .getSetCookie()
      .map((value) => value.split(';')[0])
      .join('; ')
    const response = await rawRequest(fixture.url, '/static/admin/secret.txt', {
      headers: { Cookie: session },
    })
    expect(response.status).toBe(200)
    expect(response.body).toContain('TOP-SECRET')
  })
})
