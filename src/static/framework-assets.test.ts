import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import {
  assetUrls,
  defaultClientScriptPath,
  frameworkAssets,
  htmxConfigFor,
  htmxScriptPath,
  type FrameworkAssetsOptions,
} from './index.ts'

const packageRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))

let folder: string
let clientScript: string

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'fastblocks-assets-'))
  clientScript = join(folder, 'fastblocks.js')
  writeFileSync(clientScript, 'window.fastblocks = {}\n')
})

afterAll(() => {
  rmSync(folder, { recursive: true, force: true })
})

function buildApp(options: Partial<FrameworkAssetsOptions> = {}): Hono<FastBlocksEnv> {
  const app = new Hono<FastBlocksEnv>()
  app.use(frameworkAssets({ htmxVersion: 4, clientScript, ...options }).middleware)
  app.get('/', (c) => c.text('home'))
  return app
}

describe('frameworkAssets', () => {
  it('resolves htmx builds from node_modules', () => {
    expect(htmxScriptPath(4)).toBe(join(packageRoot, 'node_modules/htmx.org/dist/htmx.min.js'))
    expect(htmxScriptPath(2)).toBe(join(packageRoot, 'node_modules/htmx2/dist/htmx.min.js'))
  })

  it('resolves the client script in the package', () => {
    expect(defaultClientScriptPath()).toBe(join(packageRoot, 'client/fastblocks.js'))
  })

  it('serves htmx 4', async () => {
    const response = await buildApp().request('/_fastblocks/htmx.js')
    expect(response.status).toBe(200)
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(htmxScriptPath(4)))
    expect(response.headers.get('Content-Type')).toBe('text/javascript; charset=utf-8')
    expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff')
  })

  it('serves htmx 2', async () => {
    const response = await buildApp({ htmxVersion: 2 }).request('/_fastblocks/htmx.js')
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(htmxScriptPath(2)))
  })

  it('serves the client script', async () => {
    const app = buildApp()
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await app.request('/_fastblocks/fastblocks.js')
      expect(await response.text()).toBe('window.fastblocks = {}\n')
      expect(response.headers.get('Content-Length')).toBe('23')
    }
  })

  it('caches versioned URLs for a year', async () => {
    const app = buildApp()
    const urls = assetUrls({ htmxVersion: 4, clientScript })
    expect(urls.htmx).toMatch(/^\/_fastblocks\/htmx\.js\?v=[0-9a-f]{16}$/)
    expect(urls.fastblocks).toMatch(/^\/_fastblocks\/fastblocks\.js\?v=[0-9a-f]{16}$/)

    for (const url of [urls.htmx, urls.fastblocks]) {
      const response = await app.request(url)
      expect(response.status, url).toBe(200)
      expect(response.headers.get('Cache-Control'), url).toBe('public, max-age=31536000, immutable')
    }
  })

  it('returns the URLs it serves', async () => {
    const assets = frameworkAssets({ htmxVersion: 2, clientScript })
    const app = new Hono<FastBlocksEnv>()
    app.use(assets.middleware)

    const urls = assets.assetUrls()
    expect(urls).toEqual(assetUrls({ htmxVersion: 2, clientScript }))
    const response = await app.request(urls.htmx)
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(htmxScriptPath(2)))
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable')
  })

  it('returns a hardened htmx config', () => {
    expect(JSON.parse(frameworkAssets({ htmxVersion: 2, clientScript }).htmxConfig)).toEqual({
      allowEval: false,
      allowScriptTags: false,
      includeIndicatorStyles: false,
      historyCacheSize: 0,
      selfRequestsOnly: true,
      historyRestoreAsHxRequest: false,
    })
    expect(JSON.parse(htmxConfigFor(4))).toEqual({ mode: 'same-origin' })
  })

  it('revalidates unversioned and stale URLs', async () => {
    const app = buildApp()
    for (const url of ['/_fastblocks/htmx.js', '/_fastblocks/htmx.js?v=0000000000000000']) {
      const response = await app.request(url)
      expect(response.headers.get('Cache-Control'), url).toBe('no-cache')
    }
  })

  it('sends 304 for a matching ETag', async () => {
    const app = buildApp()
    const etag = (await app.request('/_fastblocks/htmx.js')).headers.get('ETag') ?? ''
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/)

    const response = await app.request('/_fastblocks/htmx.js', {
      headers: { 'If-None-Match': etag },
    })
    expect(response.status).toBe(304)
    expect(await response.text()).toBe('')
  })

  it('sends HEAD with headers only', async () => {
    const response = await buildApp().request('/_fastblocks/fastblocks.js', { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('Content-Length')).toBe('23')
    expect(await response.text()).toBe('')
  })

  it('uses the prefix option', async () => {
    const app = buildApp({ prefix: '/assets' })
    expect((await app.request('/assets/htmx.js')).status).toBe(200)
    expect((await app.request('/_fastblocks/htmx.js')).status).toBe(404)
    expect(assetUrls({ htmxVersion: 4, clientScript, prefix: '/assets' }).htmx).toMatch(
      /^\/assets\/htmx\.js\?v=/,
    )
  })

  it('passes other paths and methods on', async () => {
    const app = buildApp()
    expect(await (await app.request('/')).text()).toBe('home')
    expect((await app.request('/_fastblocks/other.js')).status).toBe(404)
    expect((await app.request('/_fastblocks/htmx.js', { method: 'POST' })).status).toBe(404)
  })

  it('rejects a missing client script at set-up', () => {
    expect(() =>
      frameworkAssets({ htmxVersion: 4, clientScript: join(folder, 'missing.js') }),
    ).toThrow(expect.objectContaining({ code: 'E_INVALID_SETTINGS' }))
  })

  it('serves the package client script', async () => {
    const app = new Hono<FastBlocksEnv>()
    app.use(frameworkAssets({ htmxVersion: 4 }).middleware)
    const response = await app.request('/_fastblocks/fastblocks.js')
    expect(response.status).toBe(200)
  })
})
