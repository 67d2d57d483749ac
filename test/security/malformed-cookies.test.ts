import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from '../helpers/board.ts'
import { rawRequest } from '../helpers/http.ts'

// Malformed cookies never cause a 5xx. A valid session beside a bad unrelated cookie is still
// read; an invalid session cookie gives an anonymous visitor and is cleared.

let board: RunningBoard
let sessionPair: string
let cookieName: string

beforeAll(async () => {
  board = await startBoard()
  const { cookie } = await board.visitor()
  sessionPair = cookie
  cookieName = cookie.split('=')[0]!
})

afterAll(async () => {
  await board?.close()
})

function visitsOf(html: string): number {
  const match = /Visits in this session: <strong>(\d+)<\/strong>/.exec(html)
  return Number(match?.[1] ?? NaN)
}

describe('malformed cookie headers', () => {
  test('valid session beside bad unrelated cookies is read', async () => {
    for (const prefix of ['a=%', 'a=%E0%A4%A', '__proto__=x; constructor=y']) {
      const response = await rawRequest(board.url, '/', {
        headers: { Cookie: `${prefix}; ${sessionPair}` },
      })
      expect(response.status, prefix).toBe(200)
      expect(visitsOf(response.body), prefix).toBeGreaterThan(1)
    }
  })

  test('invalid session cookie gives an anonymous visitor and is cleared', async () => {
    const values = ['%', 'not.a.valid.seal', 'A'.repeat(5000), '']
    for (const value of values) {
      const response = await rawRequest(board.url, '/', {
        headers: { Cookie: `${cookieName}=${value}` },
      })
      expect(response.status, value.slice(0, 20)).toBe(200)
      expect(visitsOf(response.body), value.slice(0, 20)).toBe(1)
      const setCookies = ([] as string[]).concat(response.headers['set-cookie'] ?? [])
      expect(setCookies.some((cookie) => cookie.startsWith(`${cookieName}=`))).toBe(true)
    }
  })

  test('duplicate session cookie never fails', async () => {
    const response = await rawRequest(board.url, '/', {
      headers: { Cookie: `${sessionPair}; ${cookieName}=garbage` },
    })
    expect(response.status).toBe(200)
    expect(visitsOf(response.body)).toBeGreaterThan(1)
  })

  test('two hundred cookies are handled', async () => {
    const many = Array.from({ length: 200 }, (_, i) => `c${i}=v${i}`).join('; ')
    const response = await rawRequest(board.url, '/', {
      headers: { Cookie: `${many}; ${sessionPair}` },
    })
    expect(response.status).toBe(200)
  })

  test('oversized header gets 431', async () => {
    const response = await rawRequest(board.url, '/', {
      headers: { Cookie: `big=${'A'.repeat(40_000)}` },
    })
    expect(response.status).toBe(431)
  })

  test('health answers after the bad requests', async () => {
    const response = await fetch(`${board.url}/health`)
    expect(response.status).toBe(200)
  })
})
