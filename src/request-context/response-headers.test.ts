import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import { describe, expect, test } from 'vitest'
import { mutableHeaders } from './mutable-headers.ts'
import { pooledRandomBytes, pooledRandomString } from './random-pool.ts'
import { ResponseHeaders } from './response-headers.ts'

/** Applies the same calls to a runtime Headers and a ResponseHeaders and returns both. */
function both(change: (headers: Headers) => void): [Headers, Headers] {
  const runtime = new Headers()
  const ours = new ResponseHeaders() as unknown as Headers
  change(runtime)
  change(ours)
  return [runtime, ours]
}

describe('ResponseHeaders', () => {
  test('passes instanceof Headers', () => {
    expect(new ResponseHeaders()).toBeInstanceOf(Headers)
  })

  test('iterates in insertion order', () => {
    const headers = new ResponseHeaders()
    headers.set('X-B', '2')
    headers.set('X-A', '1')
    headers.append('Set-Cookie', 'c=3')
    expect([...headers]).toEqual([
      ['x-b', '2'],
      ['x-a', '1'],
      ['set-cookie', 'c=3'],
    ])
  })

  test('holds the entries Headers holds', () => {
    const [runtime, ours] = both((headers) => {
      headers.set('X-B', 'two')
      headers.append('x-a', 'one')
      headers.append('X-A', 'again')
      headers.append('Set-Cookie', 'b=2')
      headers.append('Set-Cookie', 'a=1')
      headers.set('Vary', '  Accept \t')
    })
    // A runtime Headers copy sorts the entries as the Fetch standard orders them.
    expect([...new Headers(ours)]).toEqual([...runtime])
    expect([...ours.keys()].sort()).toEqual([...runtime.keys()].sort())
    expect([...ours.values()].sort()).toEqual([...runtime.values()].sort())
  })

  test('reads like Headers', () => {
    const [runtime, ours] = both((headers) => {
      headers.append('Set-Cookie', 'a=1')
      headers.append('Set-Cookie', 'b=2')
      headers.set('Content-Type', 'text/html')
    })
    for (const name of ['set-cookie', 'CONTENT-TYPE', 'missing']) {
      expect(ours.get(name)).toBe(runtime.get(name))
      expect(ours.has(name)).toBe(runtime.has(name))
    }
    expect(ours.getSetCookie()).toEqual(runtime.getSetCookie())
  })

  test('set replaces and delete removes', () => {
    const [runtime, ours] = both((headers) => {
      headers.append('Set-Cookie', 'a=1')
      headers.set('Set-Cookie', 'b=2')
      headers.set('Cache-Control', 'no-cache')
      headers.set('cache-control', 'no-store')
      headers.append('X-Gone', '1')
      headers.delete('x-gone')
    })
    expect([...new Headers(ours)]).toEqual([...runtime])
  })

  test('rejects invalid names and values', () => {
    const headers = new ResponseHeaders()
    expect(() => headers.set('Bad Name', 'x')).toThrow(TypeError)
    expect(() => headers.set('', 'x')).toThrow(TypeError)
    expect(() => headers.set('X-Split', 'a\r\nSet-Cookie: evil=1')).toThrow(TypeError)
    expect(() => headers.append('X-Null', 'a\0b')).toThrow(TypeError)
    expect(() => headers.append('X-Line', 'a\nb')).toThrow(TypeError)
    expect([...headers]).toEqual([])
  })

  test('rejects characters above U+00FF', () => {
    const headers = new ResponseHeaders()
    const fileName = 'attachment; filename="r\u00e9sum\u00e9\u2014final.pdf"'
    expect(() => new Headers().set('Content-Disposition', fileName)).toThrow(TypeError)
    expect(() => headers.set('Content-Disposition', fileName)).toThrow(TypeError)
    // U+010A would reach the socket as the byte 0x0A, a line feed, if written as Latin-1.
    expect(() => headers.append('X-Name', 'a\u010aSet-Cookie: evil=1')).toThrow(TypeError)
    expect(() => new ResponseHeaders({ 'X-Emoji': '\u{1F600}' })).toThrow(TypeError)
    expect([...headers]).toEqual([])
  })

  test('rejects control characters that Node rejects', () => {
    const headers = new ResponseHeaders()
    // Headers accepts these, and Node's writeHead raises on them.
    expect(() => new Headers().set('X-Bell', 'a\u0007b')).not.toThrow()
    expect(() => headers.set('X-Bell', 'a\u0007b')).toThrow(TypeError)
    expect(() => headers.set('X-Delete', 'a\u007fb')).toThrow(TypeError)
    expect(() => headers.set('X-Escape', 'a\u001bb')).toThrow(TypeError)
    expect([...headers]).toEqual([])
  })

  test('keeps tab and Latin-1 values as Headers does', () => {
    const [runtime, ours] = both((headers) => {
      headers.set('X-Name', 'caf\u00e9\t\u00ff ~')
    })
    expect(ours.get('X-Name')).toBe(runtime.get('X-Name'))
  })

  test('copies a record with array values', () => {
    const headers = new ResponseHeaders({
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
    })
    expect(headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(headers.get('Content-Type')).toBe('text/plain')
  })

  test('copies a record with number values as Headers does', () => {
    // Plain JavaScript callers pass numbers, as in the common `Expires: 0`.
    const record = { Expires: 0, 'Retry-After': 120 } as unknown as Record<string, string>
    const runtime = new Headers(record)
    const ours = new ResponseHeaders(record) as unknown as Headers
    expect(ours.get('Expires')).toBe(runtime.get('Expires'))
    expect(ours.get('Retry-After')).toBe(runtime.get('Retry-After'))
  })

  test('rejects pairs of the wrong length', () => {
    const pairs = [['X-A', 'b', 'c']] as unknown as Array<[string, string]>
    expect(() => new Headers(pairs)).toThrow(TypeError)
    expect(() => new ResponseHeaders(pairs)).toThrow(TypeError)
    expect(() => new ResponseHeaders([['X-A']] as unknown as Array<[string, string]>)).toThrow(
      TypeError,
    )
  })

  test('copies runtime Headers with cookies', () => {
    const source = new Headers([
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['X-One', '1'],
    ])
    const copy = new ResponseHeaders(source) as unknown as Headers
    expect([...new Headers(copy)]).toEqual([...source])
  })

  test('copies into runtime Headers and Response', () => {
    const ours = new ResponseHeaders()
    ours.append('Set-Cookie', 'a=1')
    ours.append('Set-Cookie', 'b=2')
    ours.set('X-One', '1')
    expect(new Headers(ours as unknown as Headers).getSetCookie()).toEqual(['a=1', 'b=2'])
    const response = new Response('body', { headers: ours as unknown as Headers })
    expect(response.headers.get('x-one')).toBe('1')
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
  })
})

describe('mutableHeaders on @hono/node-server', () => {
  test('headers set after the handler reach the client', async () => {
    let base = ''
    const app = new Hono()
    app.use(async (c, next) => {
      await next()
      const headers = mutableHeaders(c)
      headers.set('X-Layer', 'set')
      headers.set('X-Headers-Class', headers instanceof ResponseHeaders ? 'map' : 'runtime')
      headers.append('Set-Cookie', 'a=1; Path=/')
      headers.append('Set-Cookie', 'b=2; Path=/')
    })
    app.get('/text', (c) => c.text('plain'))
    app.get('/html', (c) => c.html('<p>page</p>', 201))
    app.get('/redirect', () => Response.redirect('http://127.0.0.1/elsewhere', 302))
    // A URLSearchParams body is not one that the server writes without a runtime Response.
    app.get('/form', () => new Response(new URLSearchParams('a=1')))
    app.get('/proxied', () => fetch(`${base}/form`))

    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const text = await fetch(`${base}/text`)
      expect(text.headers.get('x-layer')).toBe('set')
      // A direct response takes the Map-backed path, a redirect the runtime Headers path.
      expect(text.headers.get('x-headers-class')).toBe('map')
      expect(text.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
      expect(text.headers.get('content-type')).toBe('text/plain; charset=UTF-8')
      expect(await text.text()).toBe('plain')

      const html = await fetch(`${base}/html`)
      expect(html.status).toBe(201)
      expect(html.headers.get('x-layer')).toBe('set')
      expect(html.headers.get('content-type')).toBe('text/html; charset=UTF-8')

      const redirect = await fetch(`${base}/redirect`, { redirect: 'manual' })
      expect(redirect.status).toBe(302)
      expect(redirect.headers.get('x-layer')).toBe('set')
      expect(redirect.headers.get('x-headers-class')).toBe('map')

      const form = await fetch(`${base}/form`)
      expect(form.headers.get('x-layer')).toBe('set')
      expect(form.headers.get('x-headers-class')).toBe('runtime')
      expect(await form.text()).toBe('a=1')

      // A fetched response has immutable headers, so the layer works on a copy.
      const proxied = await fetch(`${base}/proxied`)
      expect(proxied.headers.get('x-headers-class')).toBe('runtime')
      // The inner response passed the layer too, so each cookie is there twice.
      expect(proxied.headers.getSetCookie()).toHaveLength(4)
      expect(redirect.headers.get('location')).toBe('http://127.0.0.1/elsewhere')

      const head = await fetch(`${base}/text`, { method: 'HEAD' })
      expect(head.headers.get('x-layer')).toBe('set')
      expect(head.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('mutableHeaders with invalid handler headers', () => {
  test('error page replaces the response once', async () => {
    const errors: string[] = []
    const app = new Hono()
    // A new Response, as the error boundary builds: `c.text()` would copy the headers that
    // `c.header()` prepared, the invalid one included.
    app.onError((error, c) => {
      errors.push(`${c.req.path}: ${error.name}`)
      return new Response('error page', { status: 500 })
    })
    // An outer layer that must still reach the error page.
    app.use(async (c, next) => {
      await next()
      mutableHeaders(c).set('X-Outer', 'set')
    })
    // The inner layer is the first to read the handler's headers, so the error starts there.
    app.use(async (c, next) => {
      await next()
      mutableHeaders(c).set('X-Inner', 'set')
    })
    const lineBreak = { 'X-Name': 'a\r\nSet-Cookie: evil=1' }
    app.get('/direct', () => new Response('body', { headers: lineBreak }))
    app.get('/form', () => new Response(new URLSearchParams('a=1'), { headers: lineBreak }))
    app.get('/latin1', () => new Response('body', { headers: { 'X-Name': 'a\u2014b' } }))
    app.get('/control', (c) => {
      c.header('X-Name', 'a\u0007b')
      return c.text('body')
    })

    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      for (const path of ['/direct', '/form', '/latin1', '/control']) {
        const response = await fetch(`${base}${path}`)
        expect(response.status, path).toBe(500)
        expect(await response.text(), path).toBe('error page')
        expect(response.headers.get('X-Outer'), path).toBe('set')
        expect(response.headers.get('X-Name'), path).toBeNull()
        expect(response.headers.getSetCookie(), path).toEqual([])
      }
      expect(errors).toEqual([
        '/direct: TypeError',
        '/form: TypeError',
        '/latin1: TypeError',
        '/control: TypeError',
      ])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('random pool', () => {
  test('hands out no byte twice across refills', () => {
    const seen = new Set<string>()
    // 16-byte values over three refills of the 8 KiB pool; a repeat would mean reuse.
    for (let count = 0; count < 1600; count += 1) {
      const value = pooledRandomString(16, 'base64')
      expect(seen.has(value)).toBe(false)
      seen.add(value)
    }
  })

  test('returned buffers are not views of the pool', () => {
    const first = pooledRandomBytes(32)
    const copy = Buffer.from(first)
    for (let count = 0; count < 600; count += 1) pooledRandomBytes(32)
    expect(first.equals(copy)).toBe(true)
  })

  test('large requests have the requested size', () => {
    expect(pooledRandomBytes(1024)).toHaveLength(1024)
    expect(Buffer.from(pooledRandomString(300, 'base64url'), 'base64url')).toHaveLength(300)
  })
})
