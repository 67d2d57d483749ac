import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from '../helpers/board.ts'

// The board's form post follows a `next` field after adding a note; no value of it may send
// the browser to another origin.

let board: RunningBoard

beforeAll(async () => {
  board = await startBoard()
})

afterAll(async () => {
  await board?.close()
})

const OFF_SITE = [
  '//evil.example',
  '///evil.example',
  '////evil.example',
  '/\\evil.example',
  '\\/evil.example',
  '/%5Cevil.example',
  'https:\\\\evil.example',
  'http:\\evil.example',
  'https://evil.example',
  'https://app.example.evil.example',
  'https://app.example@evil.example',
  ' //evil.example',
  '/\t/evil.example',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,x',
]

async function postWithNext(next: string): Promise<Response> {
  const { cookie, token } = await board.visitor()
  return fetch(`${board.url}/notes`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      Cookie: cookie,
      Origin: board.origin,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ body: 'redirect test', csrf_token: token, next }).toString(),
  })
}

describe('next parameter', () => {
  for (const next of OFF_SITE) {
    test(`off-site target ${JSON.stringify(next)} stays on the origin`, async () => {
      const response = await postWithNext(next)
      expect([302, 303]).toContain(response.status)
      const location = response.headers.get('Location') ?? ''
      expect(new URL(location, board.origin).origin).toBe(board.origin)
    })
  }

  test('same-origin target keeps path and query', async () => {
    const response = await postWithNext('/account?tab=2')
    expect(response.headers.get('Location')).toBe('/account?tab=2')
  })
})
