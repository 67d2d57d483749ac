import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { htmx } from './index.ts'

// The htmx layer reads Node's parsed headers when it runs on @hono/node-server, so these
// tests go over real HTTP.
const app = new Hono<FastBlocksEnv>()
app.use(htmx())
app.get('/details', (c) => c.json(c.get('htmx')))
app.get('/inner', (c) =>
  // A request the app dispatches itself carries its own headers, not the outer request's.
  app.fetch(
    new Request(new URL('/details', c.req.url), { headers: { 'HX-Request': 'true' } }),
    c.env,
  ),
)

let server: ReturnType<typeof serve>
let base = ''

beforeAll(async () => {
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

test('reads htmx headers over HTTP', async () => {
  const response = await fetch(`${base}/details`, {
    headers: { 'HX-Request': 'true', 'HX-Target': 'items', 'HX-Trigger': 'more' },
  })
  const details = (await response.json()) as Record<string, unknown>
  expect(details.request).toBe(true)
  expect(details.target).toBe('items')
  expect(details.trigger).toBe('more')
  expect(details.wantsFragment).toBe(true)
})

test('boosted request wants a page', async () => {
  const response = await fetch(`${base}/details`, {
    headers: { 'HX-Request': 'true', 'HX-Boosted': 'true' },
  })
  const details = (await response.json()) as Record<string, unknown>
  expect(details.boosted).toBe(true)
  expect(details.wantsFragment).toBe(false)
})

test('inner request reads its own headers', async () => {
  const response = await fetch(`${base}/inner`)
  const details = (await response.json()) as Record<string, unknown>
  expect(details.request).toBe(true)
})
