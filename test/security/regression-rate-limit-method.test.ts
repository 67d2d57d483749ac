import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createApp, type RunningServer } from 'fastblocks'
import { FIXTURE_ROOT } from '../helpers/fixture-app.ts'
import { memoryLog } from '../helpers/logs.ts'
import { rawRequest } from '../helpers/http.ts'

// A policy registered with app.rateLimit() for GET must count every request that reaches the
// GET handler. Hono serves HEAD with the GET route, so a HEAD request runs the handler in
// full (a search, a code lookup) and only the body is dropped.

let server: RunningServer
let handlerRuns = 0

beforeAll(async () => {
  const app = await createApp({
    root: FIXTURE_ROOT,
    env: 'test',
    logDestination: memoryLog().destination,
  })
  app.rateLimit('GET', '/lookup', { name: 'lookup', points: 2, duration: 60 })
  app.get('/lookup', (c) => {
    handlerRuns++
    return c.text('result')
  })
  server = await app.listen({ port: 0, host: '127.0.0.1' })
})

afterAll(async () => {
  await server?.close()
})

describe('app.rateLimit for GET', () => {
  test('GET past the limit gets 429', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await rawRequest(server.url, '/lookup')).status)
    expect(statuses).toEqual([200, 200, 429])
  })

  test('HEAD past the limit gets 429 and runs no handler', async () => {
    const runsBefore = handlerRuns
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      statuses.push((await rawRequest(server.url, '/lookup', { method: 'HEAD' })).status)
    }
    expect(statuses).toEqual([429, 429, 429])
    expect(handlerRuns).toBe(runsBefore)
  })
})
