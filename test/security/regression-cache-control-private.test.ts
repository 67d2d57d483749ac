import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createApp, type RunningServer } from 'fastblocks'
import { FIXTURE_ROOT } from '../helpers/fixture-app.ts'
import { memoryLog } from '../helpers/logs.ts'

// A response that sets the session cookie must not be storable by a shared cache. The
// qualified form `private="Field"` (RFC 9111 section 5.2.2.7) makes only the named field
// private: a shared cache may store the rest of the response, Set-Cookie included when it is
// not named. So it must not count as `private` when the session layer decides whether to
// override the handler's Cache-Control.

let server: RunningServer

beforeAll(async () => {
  const app = await createApp({
    root: FIXTURE_ROOT,
    env: 'test',
    logDestination: memoryLog().destination,
  })
  app.get('/prefs', (c) => {
    c.var.session.set('theme', 'dark')
    c.header('Cache-Control', 'public, max-age=600, private="X-Debug"')
    return c.json({ theme: 'dark' })
  })
  server = await app.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await server?.close()
})

/** True when Cache-Control has the unqualified `private` or `no-store` directive. */
function forOneVisitorOnly(cacheControl: string): boolean {
  return cacheControl
    .split(',')
    .map((directive) => directive.trim().toLowerCase())
    .some((directive) => directive === 'private' || directive === 'no-store')
}

describe('session cookie and a qualified private directive', () => {
  test('response setting the cookie is for one visitor only', async () => {
    const response = await fetch(`${server.url}/prefs`)
    expect(response.headers.getSetCookie()).toHaveLength(1)
    expect(forOneVisitorOnly(response.headers.get('Cache-Control') ?? '')).toBe(true)
  })
})
