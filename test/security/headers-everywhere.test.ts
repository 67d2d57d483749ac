import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'
import { rawRequest } from '../helpers/http.ts'

// Every response, errors and short-circuits included, leaves with the same baseline.

let fixture: RunningFixture

beforeAll(async () => {
  fixture = await startFixture({ overrides: { middleware: { body_limit: 1024 } } })
})

afterAll(async () => {
  await fixture?.close()
})

function expectBaseline(headers: Headers, label: string) {
  expect(headers.get('Content-Security-Policy'), label).toMatch(/frame-ancestors 'none'/)
  expect(headers.get('Content-Security-Policy'), label).toMatch(/object-src 'none'/)
  expect(headers.get('X-Content-Type-Options'), label).toBe('nosniff')
  expect(headers.get('X-Frame-Options'), label).toBe('DENY')
  expect(headers.get('Referrer-Policy'), label).toBeTruthy()
  expect(headers.get('X-Request-Id'), label).toBeTruthy()
  expect(headers.get('X-Powered-By'), label).toBeNull()
}

async function pageWithToken() {
  const response = await fetch(`${fixture.url}/`)
  const html = await response.text()
  const cookie = response.headers
    .getSetCookie()
    .map((value) => value.split(';')[0])
    .join('; ')
  const token = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] ?? ''
  return { cookie, token }
}

describe('baseline headers', () => {
  test('on a normal page', async () => {
    const response = await fetch(`${fixture.url}/`)
    expect(response.status).toBe(200)
    expectBaseline(response.headers, 'page')
  })

  test('on 404', async () => {
    const response = await fetch(`${fixture.url}/no-such-page`)
    expect(response.status).toBe(404)
    expectBaseline(response.headers, '404')
  })

  test('on 405 with Allow', async () => {
    const { cookie, token } = await pageWithToken()
    const response = await fetch(`${fixture.url}/hello`, {
      method: 'DELETE',
      headers: { Cookie: cookie, Origin: fixture.url, 'X-CSRF-Token': token },
    })
    expect(response.status).toBe(405)
    expect(response.headers.get('Allow')).toContain('GET')
    expectBaseline(response.headers, '405')
  })

  test('on a guard redirect', async () => {
    const response = await fetch(`${fixture.url}/admin/users`, { redirect: 'manual' })
    expect(response.status).toBe(302)
    expectBaseline(response.headers, '302')
  })

  test('on a CSRF rejection', async () => {
    const response = await fetch(`${fixture.url}/items`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    })
    expect(response.status).toBe(403)
    expectBaseline(response.headers, '403')
  })

  test('on 413 for an oversized body', async () => {
    const { cookie, token } = await pageWithToken()
    const response = await fetch(`${fixture.url}/upload-size`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: fixture.url, 'X-CSRF-Token': token },
      body: 'x'.repeat(4096),
    })
    expect(response.status).toBe(413)
    expectBaseline(response.headers, '413')
    expect(fixture.effects).not.toContain('upload-size')
  })

  test('on 500 without a stack trace', async () => {
    const response = await fetch(`${fixture.url}/boom`)
    const html = await response.text()
    expect(response.status).toBe(500)
    expectBaseline(response.headers, '500')
    expect(html).not.toContain('hunter2')
    expect(html).not.toMatch(/at .*\.ts:\d+/)
  })

  test('on a handler header value outside Latin-1', async () => {
    const name = encodeURIComponent('r\u00e9sum\u00e9\u2014final.pdf')
    const response = await fetch(`${fixture.url}/download?name=${name}`)
    const html = await response.text()
    expect(response.status).toBe(500)
    expectBaseline(response.headers, 'invalid header value')
    expect(response.headers.get('Content-Disposition')).toBeNull()
    expect(html).toContain('Error code E_INTERNAL')
  })

  test('on a handler header value with CR and LF', async () => {
    const name = encodeURIComponent('x"\r\nSet-Cookie: injected=1')
    const response = await fetch(`${fixture.url}/download?name=${name}`)
    expect(response.status).toBe(500)
    expectBaseline(response.headers, 'header value with a line break')
    expect(response.headers.getSetCookie().join()).not.toContain('injected')
  })

  test('on 429 with Retry-After', async () => {
    const { cookie, token } = await pageWithToken()
    const headers = { Cookie: cookie, Origin: fixture.url, 'X-CSRF-Token': token }
    const statuses: number[] = []
    let last: Response | undefined
    for (let i = 0; i < 5; i++) {
      last = await fetch(`${fixture.url}/limited`, { method: 'POST', headers })
      statuses.push(last.status)
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    expect(Number(last?.headers.get('Retry-After'))).toBeGreaterThan(0)
    expectBaseline(last!.headers, '429')
    expect(fixture.effects.filter((effect) => effect === 'limited')).toHaveLength(3)
  })

  test('layer-4 policy answers 429 before the CSRF check', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${fixture.url}/limited-early`, {
        method: 'POST',
        headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      })
      statuses.push(response.status)
    }
    expect(statuses).toEqual([403, 403, 429, 429])
    expect(fixture.effects).not.toContain('limited-early')
  })

  test('on an htmx error fragment', async () => {
    const response = await fetch(`${fixture.url}/boom`, { headers: { 'HX-Request': 'true' } })
    const html = await response.text()
    expect(response.status).toBe(500)
    expect(html).not.toContain('<html')
    expect(response.headers.get('HX-Reswap')).toBe('none')
    expectBaseline(response.headers, 'htmx 500')
  })

  test('on a static file', async () => {
    const response = await fetch(`${fixture.url}/static/site.css`)
    expect(response.status).toBe(200)
    expectBaseline(response.headers, 'static')
  })

  test('on a rejected path shape', async () => {
    const response = await rawRequest(fixture.url, '/static//admin/secret.txt')
    expect(response.status).toBe(400)
    const headers = new Headers(response.headers as Record<string, string>)
    expectBaseline(headers, 'non-canonical path')
  })

  test('on a timed-out handler', async () => {
    const response = await fetch(`${fixture.url}/slow`)
    expect(response.status).toBe(503)
    expectBaseline(response.headers, 'timeout')
  })
})

describe('production headers', () => {
  test('HSTS in production only', async () => {
    const production = await startFixture({
      env: 'production',
      overrides: {
        app: {
          session_secret: 'k3Jd9x_Qm2Lp8Zr5Tv1Wy7Nb4Hc6Fg0Aa-Ss',
          csrf_secret: 'Pq7Wn2Xr9Lm4Kd8Zt1Vb6Yc3Hf5Jg0Ss-Ee',
        },
      },
    })
    try {
      const response = await fetch(`${production.url}/no-such-page`)
      expect(response.headers.get('Strict-Transport-Security')).toMatch(/max-age=\d+/)
      const html = await response.text()
      expect(html).not.toMatch(/at .*\.ts:\d+/)
    } finally {
      await production.close()
    }
    const development = await fetch(`${fixture.url}/`)
    expect(development.headers.get('Strict-Transport-Security')).toBeNull()
  })
})
