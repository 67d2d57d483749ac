import { afterAll, beforeAll, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'
import { cookiesOf, csrfTokenOf, rawRequest } from '../helpers/http.ts'

// Behind a trusted proxy, the app origin is computed from forwarded headers and kept per
// distinct set of header values. One client's headers must never decide the origin of
// another client's request, or the CSRF origin check would reject that client.

let fixture: RunningFixture

beforeAll(async () => {
  // Test requests come from 127.0.0.1, so they arrive as if through a trusted proxy.
  fixture = await startFixture({ overrides: { app: { trusted_proxies: ['loopback'] } } })
})

afterAll(async () => {
  await fixture?.close()
})

/** Loads the form page and posts it back with the page's own origin, as a browser does. */
async function submitForm(): Promise<number> {
  const page = await fetch(`${fixture.url}/`)
  const token = csrfTokenOf(await page.text())
  const response = await fetch(`${fixture.url}/items`, {
    method: 'POST',
    headers: { Cookie: cookiesOf(page), Origin: fixture.url, 'X-CSRF-Token': token },
  })
  return response.status
}

test('X-Forwarded-Host "undefined" leaves other origins alone', async () => {
  // The literal text `undefined` is a valid host, unlike a missing header.
  const poisoning = await rawRequest(fixture.url, '/login', {
    headers: { 'X-Forwarded-Host': 'undefined', 'X-Forwarded-Proto': 'undefined' },
  })
  expect(poisoning.status).toBe(200)

  expect(await submitForm()).toBe(201)
})

test('X-Forwarded-Host from the proxy sets the origin', async () => {
  const page = await fetch(`${fixture.url}/`)
  const token = csrfTokenOf(await page.text())
  const post = (origin: string) =>
    fetch(`${fixture.url}/items`, {
      method: 'POST',
      headers: {
        Cookie: cookiesOf(page),
        Origin: origin,
        'X-CSRF-Token': token,
        'X-Forwarded-Host': 'app.example',
        'X-Forwarded-Proto': 'https',
      },
    })

  expect((await post('https://app.example')).status).toBe(201)
  expect((await post(fixture.url)).status).toBe(403)
  // The same values again come from the cache and must give the same results.
  expect((await post(fixture.url)).status).toBe(403)
  expect(await submitForm()).toBe(201)
})
