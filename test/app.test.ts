import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { createApp } from 'fastblocks'
import { memoryLog } from './helpers/logs.ts'

const emptyRoot = mkdtempSync(join(tmpdir(), 'fastblocks-empty-'))

afterAll(() => {
  rmSync(emptyRoot, { recursive: true, force: true })
})

describe('createApp', () => {
  test('starts without settings, templates or public folders', async () => {
    const logs = memoryLog()
    const app = await createApp({ root: emptyRoot, env: 'test', logDestination: logs.destination })
    app.get('/health', (c) => c.text('ok'))
    app.get('/page', (c) => c.render('index.html'))

    const health = await app.request('/health')
    expect(health.status).toBe(200)
    expect(await health.text()).toBe('ok')

    const page = await app.request('/page')
    expect(page.status).toBe(500)
    const failure = logs.lines.find((line) => line.code === 'E_TEMPLATE_NOT_FOUND')
    expect(String((failure?.err as { message?: string } | undefined)?.message)).toContain(
      'templates folder',
    )

    const file = await app.request('/static/site.css')
    expect(file.status).toBe(404)
  })
})
