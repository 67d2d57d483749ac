import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from '../helpers/board.ts'

// A browser sends every one of these cross-site without a preflight, so the CSRF decision
// for unsafe methods must not depend on the Content-Type.

let board: RunningBoard

beforeAll(async () => {
  board = await startBoard()
})

afterAll(async () => {
  await board?.close()
})

const EVIL = 'https://evil.example'
const FORM = 'email=attacker%40evil.example&body=forged'
const MULTIPART =
  '--XyZ\r\nContent-Disposition: form-data; name="body"\r\n\r\nforged\r\n--XyZ--\r\n'

const variants: Array<[string, string | undefined, string]> = [
  ['no content type', undefined, FORM],
  ['text/plain', 'text/plain', FORM],
  ['upper-cased form type', 'Application/X-WWW-Form-Urlencoded', FORM],
  ['form type with charset', 'application/x-www-form-urlencoded;charset=UTF-8', FORM],
  ['multipart with boundary', 'multipart/form-data; boundary=XyZ', MULTIPART],
]

describe('cross-site post without token', () => {
  for (const [name, contentType, body] of variants) {
    test(`rejected with ${name}`, async () => {
      const { cookie } = await board.visitor()
      const before = await board.noteCount()
      const headers: Record<string, string> = {
        Cookie: cookie,
        Origin: EVIL,
        'Sec-Fetch-Site': 'cross-site',
      }
      if (contentType) headers['Content-Type'] = contentType
      const response = await fetch(`${board.url}/notes`, { method: 'POST', headers, body })
      expect(response.status).toBe(403)
      expect(await board.noteCount()).toBe(before)
    })
  }

  test('json endpoint rejects text/plain from another site', async () => {
    const { cookie } = await board.visitor()
    const response = await fetch(`${board.url}/api/prefs`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: EVIL,
        'Sec-Fetch-Site': 'cross-site',
        'Content-Type': 'text/plain;charset=UTF-8',
      },
      body: '{"theme":"dark"}',
    })
    expect([403, 415]).toContain(response.status)
  })

  test('json endpoint never parses text/plain as json', async () => {
    const { cookie, token } = await board.visitor()
    const response = await fetch(`${board.url}/api/prefs`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'X-CSRF-Token': token,
        'Content-Type': 'text/plain;charset=UTF-8',
      },
      body: '{"theme":"dark"}',
    })
    expect(response.status).toBe(415)
  })

  test('json endpoint accepts json with a token', async () => {
    const { cookie, token } = await board.visitor()
    const response = await fetch(`${board.url}/api/prefs`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'X-CSRF-Token': token,
        'Content-Type': 'application/json',
      },
      body: '{"theme":"dark"}',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ theme: 'dark' })
  })
})

describe('same-origin post', () => {
  test('without token is rejected', async () => {
    const { cookie } = await board.visitor()
    const before = await board.noteCount()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'body=no+token',
    })
    expect(response.status).toBe(403)
    expect(await board.noteCount()).toBe(before)
  })

  test('with a token of another session is rejected', async () => {
    const victim = await board.visitor()
    const attacker = await board.visitor()
    const before = await board.noteCount()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: victim.cookie,
        Origin: board.origin,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ body: 'x', csrf_token: attacker.token }).toString(),
    })
    expect(response.status).toBe(403)
    expect(await board.noteCount()).toBe(before)
  })

  test('with a foreign origin and a valid token is rejected', async () => {
    const { cookie, token } = await board.visitor()
    const before = await board.noteCount()
    for (const contentType of [undefined, 'text/plain', 'application/x-www-form-urlencoded']) {
      const headers: Record<string, string> = {
        Cookie: cookie,
        Origin: EVIL,
        'X-CSRF-Token': token,
      }
      if (contentType) headers['Content-Type'] = contentType
      const response = await fetch(`${board.url}/notes`, {
        method: 'POST',
        headers,
        body: 'body=x',
      })
      expect(response.status).toBe(403)
    }
    expect(await board.noteCount()).toBe(before)
  })

  test('rejection logs one line with id and reason', async () => {
    const { cookie } = await board.visitor()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: EVIL },
    })
    const requestId = response.headers.get('X-Request-Id')
    const rejections = board.logs.lines.filter(
      (line) => line.requestId === requestId && line.level >= 40,
    )
    expect(rejections).toHaveLength(1)
    expect(rejections[0]?.code).toBe('E_BAD_CSRF_ORIGIN')
    expect(rejections[0]?.reason).toBeTruthy()
  })
})
