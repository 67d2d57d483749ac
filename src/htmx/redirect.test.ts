import { Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import pino from 'pino'
import { beforeEach, describe, expect, it } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { toFastBlocksError } from '../errors/index.ts'
import { htmx, redirect, safeRedirectTarget, type RedirectOptions } from './index.ts'

const APP = 'https://app.example'

// Off-site targets: each must end on APP, at the fallback.
const OFF_SITE_TARGETS = [
  '//evil.example',
  '///evil.example',
  '////evil.example',
  '/\\evil.example',
  '\\/evil.example',
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

// Further members of the same kind.
const MORE_UNSAFE_TARGETS = [
  '/.//evil.example',
  '/x/..//evil.example',
  '/%2e//evil.example',
  '/\r\n/evil.example',
  '//evil.example\n',
  '\u3000//evil.example',
  '\ufeff//evil.example',
  'java\tscript:alert(1)',
  '\u0000javascript:alert(1)',
  'vbscript:msgbox(1)',
  'https://user@app.example/account',
  'https://:pass@app.example/account',
  'http://app.example/account',
  'https://app.example:8443/account',
  'https:evil.example\\x',
  'ftp://app.example/',
  'blob:https://app.example/x',
]

let logLines: Record<string, unknown>[]

beforeEach(() => {
  logLines = []
})

/** Builds a login route that redirects to `next`, from the query on GET and the form on POST. */
function buildApp(options: RedirectOptions = {}, appOrigin: string | undefined = APP) {
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logLines.push(JSON.parse(line)) },
  )
  const app = new Hono<FastBlocksEnv>()
  app.use(async (c, next) => {
    c.set('logger', logger)
    c.set('requestId', 'req-redirect')
    if (appOrigin !== undefined) c.set('appOrigin', appOrigin)
    await next()
  })
  app.use(htmx())
  app.onError((error, c) => {
    const known = toFastBlocksError(error)
    return c.text(known.code, known.status as ContentfulStatusCode)
  })
  app.get('/login', (c) => redirect(c, c.req.query('next'), options))
  app.post('/login', async (c) => {
    const form = await c.req.parseBody()
    return redirect(c, typeof form.next === 'string' ? form.next : undefined, options)
  })
  return app
}

function loginUrl(next: string): string {
  return `${APP}/login?next=${encodeURIComponent(next)}`
}

function postLogin(app: Hono<FastBlocksEnv>, next: string, headers: Record<string, string> = {}) {
  return app.request(`${APP}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ user: 'a', next }).toString(),
  })
}

describe('safeRedirectTarget', () => {
  it.each([...OFF_SITE_TARGETS, ...MORE_UNSAFE_TARGETS])('rejects %j', (target) => {
    expect(safeRedirectTarget(target, APP)).toBeNull()
  })

  it.each([
    ['/account?tab=2', '/account?tab=2'],
    ['/account?tab=2#emails', '/account?tab=2#emails'],
    ['https://app.example/account?tab=2', '/account?tab=2'],
    ['HTTPS://APP.EXAMPLE:443/account', '/account'],
    ['account', '/account'],
    ['/a/../account', '/account'],
    ['/search?q=a b', '/search?q=a%20b'],
    ['/café', '/caf%C3%A9'],
    ['/%5Cevil.example', '/%5Cevil.example'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['?page=2', '/?page=2'],
  ])('accepts %j as %j', (target, expected) => {
    expect(safeRedirectTarget(target, APP)).toBe(expected)
  })

  it('rejects an empty target', () => {
    expect(safeRedirectTarget('', APP)).toBeNull()
  })

  it('rejects a non-http app origin', () => {
    expect(() => safeRedirectTarget('/a', 'file:///srv/app')).toThrow(TypeError)
    expect(() => safeRedirectTarget('/a', 'not a url')).toThrow(TypeError)
  })
})

describe('next parameter after login', () => {
  it('keeps the control target', async () => {
    const app = buildApp()
    for (const response of [
      await app.request(loginUrl('/account?tab=2')),
      await postLogin(app, '/account?tab=2'),
    ]) {
      expect(response.status).toBe(303)
      expect(response.headers.get('Location')).toBe('/account?tab=2')
    }
  })

  it.each([...OFF_SITE_TARGETS, '/%5Cevil.example', ...MORE_UNSAFE_TARGETS])(
    'stays on the origin for %j',
    async (target) => {
      const app = buildApp()
      for (const response of [await app.request(loginUrl(target)), await postLogin(app, target)]) {
        expect([302, 303]).toContain(response.status)
        const location = response.headers.get('Location') ?? ''
        expect(new URL(location, `${APP}/login`).origin).toBe(APP)
        expect(location.startsWith('//')).toBe(false)
      }
    },
  )

  it.each(OFF_SITE_TARGETS)('falls back to / for %j', async (target) => {
    const response = await buildApp().request(loginUrl(target))
    expect(response.headers.get('Location')).toBe('/')
  })

  it.each(OFF_SITE_TARGETS)('sends a same-origin HX-Redirect for %j', async (target) => {
    const response = await postLogin(buildApp(), target, { 'HX-Request': 'true' })
    expect(response.status).toBe(200)
    expect(response.headers.get('Location')).toBeNull()
    const location = response.headers.get('HX-Redirect') ?? ''
    expect(new URL(location, `${APP}/login`).origin).toBe(APP)
    expect(location).toBe('/')
  })
})

describe('redirect', () => {
  it('logs an unsafe target once', async () => {
    await buildApp().request(loginUrl('https://evil.example/x?token=abc'))
    expect(logLines).toHaveLength(1)
    expect(logLines[0]).toMatchObject({
      level: 40,
      layer: 'redirect',
      reason: 'unsafe_target',
      requestId: 'req-redirect',
      target: 'https://evil.example/x',
    })
    expect(JSON.stringify(logLines[0])).not.toContain('token=abc')
  })

  it('falls back quietly without a target', async () => {
    const response = await buildApp().request(`${APP}/login`)
    expect(response.headers.get('Location')).toBe('/')
    expect(logLines).toHaveLength(0)
  })

  it('uses the fallback and status options', async () => {
    const app = buildApp({ fallback: '/home', status: 302 })
    const response = await app.request(loginUrl('//evil.example'))
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/home')
  })

  it('rejects an off-site fallback', async () => {
    const response = await buildApp({ fallback: 'https://evil.example/' }).request(
      loginUrl('//evil.example'),
    )
    expect(response.status).toBe(400)
    expect(await response.text()).toBe('E_UNSAFE_REDIRECT')
  })

  it('uses the request origin without appOrigin', async () => {
    const app = buildApp({}, undefined)
    const sameOrigin = await app.request(loginUrl('https://app.example/account'))
    expect(sameOrigin.headers.get('Location')).toBe('/account')
    const offSite = await app.request(loginUrl('https://evil.example/account'))
    expect(offSite.headers.get('Location')).toBe('/')
  })

  it('sends HX-Redirect to htmx requests', async () => {
    const response = await buildApp().request(loginUrl('/account'), {
      headers: { 'HX-Request': 'true', 'HX-Boosted': 'true' },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('HX-Redirect')).toBe('/account')
  })

  it('sends 303 to history restore requests', async () => {
    const response = await buildApp().request(loginUrl('/account'), {
      headers: { 'HX-Request': 'true', 'HX-History-Restore-Request': 'true' },
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('Location')).toBe('/account')
    expect(response.headers.get('HX-Redirect')).toBeNull()
  })
})
