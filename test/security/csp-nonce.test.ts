import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'

let fixture: RunningFixture

beforeAll(async () => {
  fixture = await startFixture()
})

afterAll(async () => {
  await fixture?.close()
})

function headerNonce(response: Response): string {
  const match = /'nonce-([^']+)'/.exec(response.headers.get('Content-Security-Policy') ?? '')
  if (!match?.[1]) throw new Error('CSP header has no nonce')
  return match[1]
}

function bodyNonces(html: string): string[] {
  return [...html.matchAll(/<(?:script|style)[^>]* nonce="([^"]+)"/g)].map((match) => match[1]!)
}

describe('CSP nonce', () => {
  test('fresh per response and matching the body', async () => {
    const first = await fetch(`${fixture.url}/data`)
    const second = await fetch(`${fixture.url}/data`)
    const firstNonce = headerNonce(first)
    const secondNonce = headerNonce(second)
    expect(firstNonce).not.toBe(secondNonce)
    expect(Buffer.from(firstNonce, 'base64').length).toBeGreaterThanOrEqual(16)

    const firstBody = bodyNonces(await first.text())
    const secondBody = bodyNonces(await second.text())
    expect(firstBody.length).toBeGreaterThanOrEqual(3)
    expect(new Set(firstBody)).toEqual(new Set([firstNonce]))
    expect(new Set(secondBody)).toEqual(new Set([secondNonce]))
  })

  test('nonce-bearing page is not cacheable and has no validators', async () => {
    const response = await fetch(`${fixture.url}/data`)
    expect(response.headers.get('Cache-Control')).toMatch(/no-store/)
    expect(response.headers.get('ETag')).toBeNull()
    expect(response.headers.get('Last-Modified')).toBeNull()
  })

  test('conditional request still gets 200 with a new nonce', async () => {
    const first = await fetch(`${fixture.url}/data`)
    const response = await fetch(`${fixture.url}/data`, {
      headers: {
        'If-None-Match': first.headers.get('ETag') ?? '"anything"',
        'If-Modified-Since': new Date().toUTCString(),
      },
    })
    expect(response.status).toBe(200)
    expect(headerNonce(response)).not.toBe(headerNonce(first))
  })

  test('htmx block responses get fresh nonces', async () => {
    const headers = { 'HX-Request': 'true' }
    const first = await fetch(`${fixture.url}/`, { headers })
    const second = await fetch(`${fixture.url}/`, { headers })
    expect(headerNonce(first)).not.toBe(headerNonce(second))
    expect(first.headers.get('Cache-Control')).toMatch(/no-store/)
    expect(await first.text()).not.toContain('<html')
  })

  test('policy allows no inline or eval scripts', async () => {
    const response = await fetch(`${fixture.url}/`)
    const policy = response.headers.get('Content-Security-Policy') ?? ''
    expect(policy).not.toContain('unsafe-inline')
    expect(policy).not.toContain('unsafe-eval')
    expect(policy).toMatch(/default-src 'self'/)
    expect(policy).toMatch(/base-uri 'none'/)
    expect(policy).toMatch(/form-action 'self'/)
  })
})
