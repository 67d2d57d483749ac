import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import type { ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import type { Context } from 'hono'
import { pino } from 'pino'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { toFastBlocksError } from '../errors/index.ts'
import type { FlashMessage, Session } from '../session/types.ts'
import { csrfProtection, SEED_KEY } from './index.ts'

// The client script against real htmx 2 and htmx 4 in Chromium, under a CSP with nonces and
// neither 'unsafe-inline' nor 'unsafe-eval'. Skipped when no Chromium is installed.
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const scriptFiles = {
  htmx2: fileURLToPath(import.meta.resolve('htmx2/dist/htmx.js')),
  htmx4: fileURLToPath(import.meta.resolve('htmx.org/dist/htmx.js')),
  client: fileURLToPath(new URL('../../client/fastblocks.js', import.meta.url)),
}

/** Map-backed Session. Its `regenerate()` drops the CSRF seed as the real session does. */
function memorySession(): Session {
  const values = new Map<string, unknown>()
  let modified = false
  return {
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key, value) => {
      values.set(key, value)
      modified = true
    },
    delete: (key) => {
      modified = values.delete(key) || modified
    },
    has: (key) => values.has(key),
    clear: () => {
      values.clear()
      modified = true
    },
    regenerate: () => {
      values.delete(SEED_KEY)
      modified = true
    },
    flash: () => undefined,
    consumeFlash: (): FlashMessage[] => [],
    isNew: false,
    get isModified() {
      return modified
    },
  }
}

interface PageSetup {
  name: string
  htmxVersion: 2 | 4
  /** Content of `<meta name="htmx-config">`, with `{nonce}` replaced by the response's nonce. */
  htmxConfig: string | undefined
  /** CSP style-src, with `{nonce}` replaced by the response's nonce. */
  styleSrc: string
}

const setups: PageSetup[] = [
  {
    name: 'htmx 2, indicator styles off',
    htmxVersion: 2,
    htmxConfig:
      '{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,"historyCacheSize":0}',
    styleSrc: "'self'",
  },
  {
    name: 'htmx 2, indicator styles with nonce',
    htmxVersion: 2,
    htmxConfig:
      '{"allowEval":false,"allowScriptTags":false,"inlineStyleNonce":"{nonce}","historyCacheSize":0}',
    styleSrc: "'self' 'nonce-{nonce}'",
  },
  {
    name: 'htmx 4, default config',
    htmxVersion: 4,
    htmxConfig: undefined,
    styleSrc: "'self'",
  },
]

interface TestServer {
  url: string
  server: ServerType
  /** Status and X-CSRF-Token request header of each POST the server received. */
  posts: { path: string; status: number; token: string | undefined }[]
}

function createApp(setup: PageSetup, posts: TestServer['posts']): Hono<FastBlocksEnv> {
  const sessions = new Map<string, Session>()
  const logger = pino({ level: 'silent' })
  const protection = csrfProtection({ secret: randomBytes(32).toString('base64url'), logger })
  const htmxSource = readFileSync(setup.htmxVersion === 2 ? scriptFiles.htmx2 : scriptFiles.htmx4)
  const clientSource = readFileSync(scriptFiles.client)
  let saves = 0

  const app = new Hono<FastBlocksEnv>()
  app.use(async (c, next) => {
    c.set('requestId', randomBytes(4).toString('hex'))
    c.set('logger', logger)
    c.set('appOrigin', new URL(c.req.url).origin)
    c.set('cspNonce', randomBytes(16).toString('base64'))
    await next()
    const nonce = c.var.cspNonce
    c.header(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; ` +
        `style-src ${setup.styleSrc.replace('{nonce}', nonce)}; connect-src 'self'; ` +
        `form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    )
  })
  app.use(async (c, next) => {
    let sid = /(?:^|;\s*)sid=([^;]+)/.exec(c.req.header('Cookie') ?? '')?.[1]
    if (sid === undefined || !sessions.has(sid)) {
      sid = randomBytes(8).toString('hex')
      sessions.set(sid, memorySession())
      c.header('Set-Cookie', `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`)
    }
    c.set('session', sessions.get(sid)!)
    await next()
  })
  app.use(async (c, next) => {
    await next()
    if (c.req.method === 'POST') {
      posts.push({ path: c.req.path, status: c.res.status, token: c.req.header('X-CSRF-Token') })
    }
  })
  app.use(protection.middleware)

  const page = (c: Context<FastBlocksEnv>, title: string) => {
    const nonce = c.var.cspNonce
    const token = c.var.csrfToken()
    const config = setup.htmxConfig?.replace('{nonce}', nonce)
    const boost = setup.htmxVersion === 2 ? 'hx-boost="true"' : 'hx-boost:inherited="true"'
    return c.html(
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
        `<title>${title}</title>\n<meta name="csrf-token" content="${token}">\n` +
        (config === undefined ? '' : `<meta name="htmx-config" content='${config}'>\n`) +
        `<script src="/htmx.js" nonce="${nonce}"></script>\n` +
        `<script src="/fastblocks.js" nonce="${nonce}"></script>\n` +
        `</head>\n<body ${boost}>\n<h1 id="title">${title}</h1>\n` +
        '<a id="to-page-b" href="/page-b">Page B</a>\n' +
        '<form id="login" method="post" action="/login">' +
        `<input type="hidden" name="csrf_token" value="${token}">` +
        '<button id="login-button">Log in</button></form>\n' +
        '<button id="save" hx-post="/account/email" hx-target="#result">Save</button>\n' +
        '<output id="result"></output>\n</body>\n</html>\n',
    )
  }

  app.get('/htmx.js', (c) => c.body(htmxSource, 200, { 'Content-Type': 'text/javascript' }))
  app.get('/fastblocks.js', (c) => c.body(clientSource, 200, { 'Content-Type': 'text/javascript' }))
  app.get('/page-a', (c) => page(c, 'Page A'))
  app.get('/page-b', (c) => page(c, 'Page B'))
  app.post('/login', (c) => {
    c.var.session.regenerate()
    return page(c, 'Welcome')
  })
  app.post('/account/email', (c) => {
    saves += 1
    return c.html(`saved ${saves}`)
  })
  app.onError((error, c) => {
    const failure = toFastBlocksError(error)
    return c.text(failure.code, failure.status as 403, failure.headers)
  })
  return app
}

async function startServer(setup: PageSetup): Promise<TestServer> {
  const posts: TestServer['posts'] = []
  const app = createApp(setup, posts)
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, hostname: '127.0.0.1', port: 0 },
      (info: AddressInfo) => resolve({ url: `http://127.0.0.1:${info.port}`, server, posts }),
    )
  })
}

describe.skipIf(!existsSync(CHROMIUM_PATH))('client script in Chromium', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] })
  })

  afterAll(async () => {
    await browser?.close()
  })

  for (const setup of setups) {
    test(`${setup.name}: token follows navigation and login`, async () => {
      const { url, server, posts } = await startServer(setup)
      const context = await browser.newContext()
      const page = await context.newPage()
      const problems: string[] = []
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning')
          problems.push(message.text())
      })
      page.on('pageerror', (error) => problems.push(error.message))
      const tokenInMeta = () => page.getAttribute('meta[name="csrf-token"]', 'content')

      try {
        await page.goto(`${url}/page-a`)
        const firstToken = await tokenInMeta()

        await page.click('#save')
        await page.waitForSelector('#result:has-text("saved 1")', { timeout: 5000 })

        // Boosted navigation swaps the body's content and leaves <head> as it was.
        await page.click('#to-page-b')
        await page.waitForSelector('#title:has-text("Page B")', { timeout: 5000 })
        await page.click('#save')
        await page.waitForSelector('#result:has-text("saved 2")', { timeout: 5000 })

        // The login regenerates the session, so every token handed out before is void.
        await page.click('#login-button')
        await page.waitForSelector('#title:has-text("Welcome")', { timeout: 5000 })
        const tokenAfterLogin = await tokenInMeta()
        await page.click('#save')
        await page.waitForSelector('#result:has-text("saved 3")', { timeout: 5000 })

        expect(tokenAfterLogin).not.toBe(firstToken)
        expect(posts.map((post) => `${post.path} ${post.status}`)).toEqual([
          '/account/email 200',
          '/account/email 200',
          '/login 200',
          '/account/email 200',
        ])
        expect(posts.every((post) => post.token !== undefined)).toBe(true)
        expect(problems).toEqual([])
      } finally {
        await context.close()
        server.close()
      }
    })
  }

  test('token only on unsafe same-origin requests', async () => {
    const { url, server } = await startServer(setups[0]!)
    const context = await browser.newContext()
    const page = await context.newPage()

    try {
      await page.goto(`${url}/page-a`)
      const token = await page.getAttribute('meta[name="csrf-token"]', 'content')
      // Dispatches the request configuration events of both htmx versions by hand and
      // returns the token header each listener set, or null.
      const sentToken = (version: 2 | 4, method: string, target: string) =>
        page.evaluate(
          ({ version, method, target }) => {
            const headers: Record<string, string> = {}
            const detail =
              version === 2
                ? { verb: method.toLowerCase(), path: target, headers }
                : { ctx: { request: { method, action: target, headers } } }
            const name = version === 2 ? 'htmx:configRequest' : 'htmx:config:request'
            document.dispatchEvent(new CustomEvent(name, { detail }))
            return headers['X-CSRF-Token'] ?? null
          },
          { version, method, target },
        )

      for (const version of [2, 4] as const) {
        expect(await sentToken(version, 'POST', '/account/email'), `${version} POST`).toBe(token)
        expect(await sentToken(version, 'DELETE', `${url}/item/1`), `${version} DELETE`).toBe(token)
        expect(await sentToken(version, 'GET', '/page-b'), `${version} GET`).toBeNull()
        expect(
          await sentToken(version, 'POST', 'https://evil.example/x'),
          `${version} foreign`,
        ).toBeNull()
        expect(
          await sentToken(version, 'POST', '//evil.example/x'),
          `${version} scheme-relative`,
        ).toBeNull()
        expect(
          await sentToken(version, 'POST', url.replace('127.0.0.1', 'localhost')),
          `${version} other host`,
        ).toBeNull()
      }
    } finally {
      await context.close()
      server.close()
    }
  })
})
