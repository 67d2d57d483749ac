import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from './helpers/board.ts'
import { cookiesOf, csrfTokenOf } from './helpers/http.ts'

let board: RunningBoard

beforeAll(async () => {
  board = await startBoard()
})

afterAll(async () => {
  await board?.close()
})

function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

describe('notes board', () => {
  test('page renders with layout, form and token', async () => {
    const response = await fetch(`${board.url}/`)
    const html = await response.text()
    expect(response.status).toBe(200)
    expect(html).toContain('<!doctype html>')
    expect(html).toContain('<section id="notes">')
    expect(html).toMatch(/<input type="hidden" name="csrf_token" value="[^"]+">/)
    expect(html).toMatch(/<meta name="csrf-token" content="[^"]+">/)
    expect(html).toContain('/_fastblocks/htmx.js')
  })

  test('htmx request for the list gets only the block', async () => {
    const response = await fetch(`${board.url}/notes`, { headers: { 'HX-Request': 'true' } })
    const html = await response.text()
    expect(response.status).toBe(200)
    expect(html.trimStart().startsWith('<section id="notes">')).toBe(true)
    expect(html).not.toContain('<html')
    expect(response.headers.get('Vary')).toMatch(/HX-Request/i)
  })

  test('full page and block never share a cache entry', async () => {
    const full = await fetch(`${board.url}/notes`)
    const block = await fetch(`${board.url}/notes`, { headers: { 'HX-Request': 'true' } })
    for (const response of [full, block]) {
      expect(response.headers.get('Vary')).toMatch(/HX-Request/i)
      expect(response.headers.get('Cache-Control')).toMatch(/no-store/)
    }
    expect(await full.text()).toContain('<html')
  })

  test('boosted request gets the whole page', async () => {
    const response = await fetch(`${board.url}/notes`, {
      headers: { 'HX-Request': 'true', 'HX-Boosted': 'true' },
    })
    expect(await response.text()).toContain('<html')
  })

  test('htmx post adds a note and returns the list block', async () => {
    const { cookie, token } = await board.visitor()
    const before = await board.noteCount()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'HX-Request': 'true',
        'X-CSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ body: 'Buy <milk> & "bread"' }),
    })
    const html = await response.text()
    expect(response.status).toBe(200)
    expect(html).toContain('Buy &lt;milk&gt; &amp; &quot;bread&quot;')
    expect(html).not.toContain('<milk>')
    expect(html).not.toContain('<html')
    expect(await board.noteCount()).toBe(before + 1)
    expect(JSON.parse(response.headers.get('HX-Trigger') ?? '{}')).toHaveProperty('note-added')
  })

  test('form post without htmx redirects with a flash message', async () => {
    const { cookie, token } = await board.visitor()
    const response = await fetch(`${board.url}/notes`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ body: 'plain form', csrf_token: token }),
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('Location')).toBe('/')
    const nextCookie = cookiesOf(response) || cookie
    const page = await fetch(`${board.url}/`, { headers: { Cookie: nextCookie } })
    const html = await page.text()
    expect(html).toContain('Note added')
    const again = await fetch(`${board.url}/`, {
      headers: { Cookie: cookiesOf(page) || nextCookie },
    })
    expect(await again.text()).not.toContain('Note added')
  })

  test('note deletion through htmx', async () => {
    const { cookie, token } = await board.visitor()
    const headers = {
      Cookie: cookie,
      Origin: board.origin,
      'HX-Request': 'true',
      'X-CSRF-Token': token,
      'Content-Type': 'application/x-www-form-urlencoded',
    }
    await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers,
      body: formBody({ body: 'to delete' }),
    })
    const row = await board.db
      .selectFrom('notes')
      .select('id')
      .where('body', '=', 'to delete')
      .executeTakeFirstOrThrow()
    const response = await fetch(`${board.url}/notes/${row.id}`, { method: 'DELETE', headers })
    expect(response.status).toBe(200)
    expect(await response.text()).not.toContain('to delete')
    const gone = await board.db
      .selectFrom('notes')
      .select('id')
      .where('id', '=', row.id)
      .executeTakeFirst()
    expect(gone).toBeUndefined()
  })

  test('visit counter counts per session', async () => {
    const first = await fetch(`${board.url}/`)
    const cookie = cookiesOf(first)
    expect(await first.text()).toContain('<strong>1</strong>')
    const second = await fetch(`${board.url}/`, { headers: { Cookie: cookie } })
    expect(await second.text()).toContain('<strong>2</strong>')
    const block = await fetch(`${board.url}/counter`, {
      headers: { Cookie: cookiesOf(second) || cookie, 'HX-Request': 'true' },
    })
    const html = await block.text()
    expect(html.trimStart().startsWith('<p id="counter">')).toBe(true)
    expect(html).toContain('<strong>2</strong>')
  })

  test('empty or oversized note is rejected', async () => {
    const { cookie, token } = await board.visitor()
    const before = await board.noteCount()
    for (const body of ['', 'x'.repeat(501)]) {
      const response = await fetch(`${board.url}/notes`, {
        method: 'POST',
        headers: {
          Cookie: cookie,
          Origin: board.origin,
          'X-CSRF-Token': token,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: formBody({ body }),
      })
      expect(response.status).toBe(400)
    }
    expect(await board.noteCount()).toBe(before)
  })

  test('notes survive a restart', async () => {
    const { cookie, token } = await board.visitor()
    await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: board.origin,
        'X-CSRF-Token': token,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: formBody({ body: 'persistent note' }),
    })
    const restarted = await startBoard({ dataFolder: board.dataFolder })
    try {
      const html = await (await fetch(`${restarted.url}/`)).text()
      expect(html).toContain('persistent note')
    } finally {
      await restarted.close()
    }
  })

  test('health answers ok', async () => {
    const response = await fetch(`${board.url}/health`)
    expect(await response.text()).toBe('ok')
  })

  test('each request logs one line with its id', async () => {
    const response = await fetch(`${board.url}/health`)
    const requestId = response.headers.get('X-Request-Id')
    expect(requestId).toBeTruthy()
    const lines = board.logs.lines.filter((line) => line.requestId === requestId)
    expect(lines.filter((line) => line.msg === 'request')).toHaveLength(1)
  })

  test('logs never contain the session cookie or token', async () => {
    const { cookie, token } = await board.visitor()
    await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: board.origin, 'X-CSRF-Token': 'forged' },
    })
    await fetch(`${board.url}/notes`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: 'https://evil.example', 'X-CSRF-Token': token },
    })
    const text = board.logs.text()
    expect(text).not.toContain(cookie.split('=')[1])
    expect(text).not.toContain(token)
    expect(text).not.toContain('forged')
  })

  test('rendered tokens differ on every response', async () => {
    const { cookie } = await board.visitor()
    const first = csrfTokenOf(
      await (await fetch(`${board.url}/`, { headers: { Cookie: cookie } })).text(),
    )
    const second = csrfTokenOf(
      await (await fetch(`${board.url}/`, { headers: { Cookie: cookie } })).text(),
    )
    expect(first).not.toBe(second)
  })
})
