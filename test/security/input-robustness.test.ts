import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from '../helpers/board.ts'

// Input a client controls must never turn into a 5xx: a malformed body is the client's
// fault (4xx), and so is anything a client can pile up in its own session.

let board: RunningBoard

beforeAll(async () => {
  board = await startBoard()
})

afterAll(async () => {
  await board?.close()
})

describe('malformed bodies', () => {
  test('malformed multipart gets 400', async () => {
    const { cookie, token } = await board.visitor()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'X-CSRF-Token': token,
        'Content-Type': 'multipart/form-data; boundary=XyZ',
      },
      body: 'not a multipart body',
    })
    expect(response.status).toBe(400)
  })

  test('malformed multipart logs no server error', async () => {
    const { cookie, token } = await board.visitor()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'X-CSRF-Token': token,
        'Content-Type': 'multipart/form-data; boundary=XyZ',
      },
      body: '--XyZ\r\nContent-Disposition: form-data; name="body"\r\n\r\nunterminated',
    })
    const requestId = response.headers.get('X-Request-Id')
    const errors = board.logs.lines.filter(
      (line) => line.requestId === requestId && line.level >= 50,
    )
    expect(errors).toHaveLength(0)
  })
})

describe('flash messages', () => {
  test('unread flash messages keep 303', async () => {
    const { cookie: first, token } = await board.visitor()
    let cookie = first
    const statuses = new Set<number>()
    // A client without a browser posts and never loads the page that shows the flash.
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${board.url}/notes`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          Cookie: cookie,
          Origin: board.origin,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ body: `note ${i}`, csrf_token: token }).toString(),
      })
      statuses.add(response.status)
      const renewed = response.headers.getSetCookie()[0]?.split(';')[0]
      if (renewed) cookie = renewed
    }
    expect([...statuses]).toEqual([303])
  })
})
