import { Hono, type Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { describe, expect, it } from 'vitest'
import type { FastBlocksEnv } from '../app/env.ts'
import { toFastBlocksError } from '../errors/index.ts'
import {
  htmx,
  hxLocation,
  hxPushUrl,
  hxRedirect,
  hxRefresh,
  hxReplaceUrl,
  hxReselect,
  hxRetarget,
  hxReswap,
  hxTrigger,
  type HtmxDetails,
} from './index.ts'

const APP = 'https://app.example'

/** Runs `handle` in a route of an app with the htmx layer and returns the response. */
async function respond(
  handle: (c: Context<FastBlocksEnv>) => Response | Promise<Response> | void,
  headers: Record<string, string> = {},
): Promise<Response> {
  const app = new Hono<FastBlocksEnv>()
  app.use(async (c, next) => {
    c.set('appOrigin', APP)
    await next()
  })
  app.use(htmx())
  app.onError((error, c) => {
    const known = toFastBlocksError(error)
    const status = (error instanceof TypeError ? 500 : known.status) as ContentfulStatusCode
    return c.text(error instanceof TypeError ? 'TypeError' : known.code, status)
  })
  app.get('/page', async (c) => (await handle(c)) ?? c.text('ok'))
  return app.request(`${APP}/page`, { headers })
}

async function detailsFor(headers: Record<string, string>): Promise<HtmxDetails> {
  let details: HtmxDetails | undefined
  await respond((c) => {
    details = c.var.htmx
  }, headers)
  if (details === undefined) throw new Error('the route did not run')
  return details
}

describe('htmx details', () => {
  it('reads a plain request', async () => {
    expect(await detailsFor({})).toEqual({
      request: false,
      boosted: false,
      historyRestore: false,
      target: undefined,
      trigger: undefined,
      triggerName: undefined,
      currentUrl: undefined,
      wantsFragment: false,
    })
  })

  it('reads htmx 2 headers', async () => {
    const details = await detailsFor({
      'HX-Request': 'true',
      'HX-Target': 'item-list',
      'HX-Trigger': 'save-button',
      'HX-Trigger-Name': 'save',
      'HX-Current-URL': `${APP}/items`,
    })
    expect(details).toEqual({
      request: true,
      boosted: false,
      historyRestore: false,
      target: 'item-list',
      trigger: 'save-button',
      triggerName: 'save',
      currentUrl: `${APP}/items`,
      wantsFragment: true,
    })
  })

  it('reads htmx 4 headers', async () => {
    const details = await detailsFor({
      'HX-Request': 'true',
      'HX-Request-Type': 'partial',
      'HX-Source': 'button#save%20all',
      'HX-Target': 'ul#item-list',
      'HX-Current-URL': `${APP}/items`,
    })
    expect(details.target).toBe('item-list')
    expect(details.trigger).toBe('save all')
    expect(details.triggerName).toBeUndefined()
    expect(details.wantsFragment).toBe(true)
  })

  it('reads htmx 4 elements without id', async () => {
    const details = await detailsFor({
      'HX-Request': 'true',
      'HX-Source': 'button',
      'HX-Target': 'body',
    })
    expect(details.target).toBeUndefined()
    expect(details.trigger).toBeUndefined()
  })

  it.each([
    [{ 'HX-Request': 'true' }, true],
    [{ 'HX-Request': 'false' }, false],
    [{ 'HX-Request': 'true', 'HX-Boosted': 'true' }, false],
    [{ 'HX-Request': 'true', 'HX-History-Restore-Request': 'true' }, false],
    [{ 'HX-Request': 'true', 'HX-Request-Type': 'full' }, false],
    [{ 'HX-Boosted': 'true' }, false],
  ])('computes wantsFragment for %j', async (headers, expected) => {
    expect((await detailsFor(headers)).wantsFragment).toBe(expected)
  })
})

describe('htmx Vary header', () => {
  const VARY = 'HX-Request, HX-Boosted, HX-History-Restore-Request, HX-Request-Type'

  it('varies a plain response on the htmx headers', async () => {
    const response = await respond(() => undefined)
    expect(response.headers.get('Vary')).toBe(VARY)
  })

  it('appends to an existing Vary', async () => {
    const response = await respond((c) => {
      c.header('Vary', 'Accept-Encoding')
    })
    expect(response.headers.get('Vary')).toBe(`Accept-Encoding, ${VARY}`)
  })

  it('adds no duplicates', async () => {
    const response = await respond((c) => {
      c.header('Vary', 'hx-request, Cookie')
    })
    expect(response.headers.get('Vary')).toBe(
      'hx-request, Cookie, HX-Boosted, HX-History-Restore-Request, HX-Request-Type',
    )
  })

  it('keeps Vary: *', async () => {
    const response = await respond((c) => {
      c.header('Vary', '*')
    })
    expect(response.headers.get('Vary')).toBe('*')
  })

  it('varies error and redirect responses', async () => {
    const failed = await respond(() => {
      throw new Error('boom')
    })
    expect(failed.status).toBe(500)
    expect(failed.headers.get('Vary')).toBe(VARY)

    const redirected = await respond(() => Response.redirect(`${APP}/next`, 303))
    expect(redirected.status).toBe(303)
    expect(redirected.headers.get('Location')).toBe(`${APP}/next`)
    expect(redirected.headers.get('Vary')).toBe(VARY)
  })

  it('uses the vary option', async () => {
    const app = new Hono<FastBlocksEnv>()
    app.use(htmx({ vary: ['HX-Request'] }))
    app.get('/', (c) => c.text('ok'))
    expect((await app.request('/')).headers.get('Vary')).toBe('HX-Request')
  })
})

describe('navigation helpers', () => {
  it('sets same-origin navigation headers as paths', async () => {
    const response = await respond((c) => {
      hxRedirect(c, 'https://app.example/account')
      hxPushUrl(c, '/items?page=2')
      hxReplaceUrl(c, '/items?sort=name')
      hxRefresh(c)
    })
    expect(response.headers.get('HX-Redirect')).toBe('/account')
    expect(response.headers.get('HX-Push-Url')).toBe('/items?page=2')
    expect(response.headers.get('HX-Replace-Url')).toBe('/items?sort=name')
    expect(response.headers.get('HX-Refresh')).toBe('true')
  })

  it('sends false for no history entry', async () => {
    const response = await respond((c) => {
      hxPushUrl(c, false)
      hxReplaceUrl(c, false)
    })
    expect(response.headers.get('HX-Push-Url')).toBe('false')
    expect(response.headers.get('HX-Replace-Url')).toBe('false')
  })

  it('sends HX-Location as a path or JSON', async () => {
    const plain = await respond((c) => hxLocation(c, '/items'))
    expect(plain.headers.get('HX-Location')).toBe('/items')

    const structured = await respond((c) =>
      hxLocation(c, {
        path: 'https://app.example/items',
        target: '#main',
        swap: 'innerHTML',
        push: '/items?from=location',
        values: { note: 'café' },
      }),
    )
    const header = structured.headers.get('HX-Location') ?? ''
    expect(header).toMatch(/^[\x20-\x7e]+$/)
    expect(JSON.parse(header)).toEqual({
      path: '/items',
      target: '#main',
      swap: 'innerHTML',
      push: '/items?from=location',
      values: { note: 'café' },
    })
  })

  const UNSAFE = [
    '//evil.example',
    '/\\evil.example',
    'https://evil.example',
    'javascript:alert(1)',
    '/\r\nSet-Cookie: a=b',
  ]

  const STRICT_HELPERS: [string, (c: Context<FastBlocksEnv>, url: string) => void][] = [
    ['hxRedirect', hxRedirect],
    ['hxLocation', hxLocation],
    ['hxLocation object', (c, url) => hxLocation(c, { path: url })],
    ['hxLocation push', (c, url) => hxLocation(c, { path: '/a', push: url })],
    ['hxLocation replace', (c, url) => hxLocation(c, { path: '/a', replace: url })],
    ['hxPushUrl', hxPushUrl],
    ['hxReplaceUrl', hxReplaceUrl],
  ]

  it.each(STRICT_HELPERS)('%s rejects off-site targets', async (_name, helper) => {
    for (const url of UNSAFE) {
      const response = await respond((c) => helper(c, url))
      expect(response.status, url).toBe(400)
      expect(await response.text(), url).toBe('E_UNSAFE_REDIRECT')
    }
  })
})

describe('swap helpers', () => {
  it('sets retarget, reswap and reselect', async () => {
    const response = await respond((c) => {
      hxRetarget(c, '#errors')
      hxReswap(c, 'beforeend scroll:bottom')
      hxReselect(c, '#content')
    })
    expect(response.headers.get('HX-Retarget')).toBe('#errors')
    expect(response.headers.get('HX-Reswap')).toBe('beforeend scroll:bottom')
    expect(response.headers.get('HX-Reselect')).toBe('#content')
  })

  it('escapes non-ASCII selectors for CSS', async () => {
    const response = await respond((c) => hxRetarget(c, '#café'))
    expect(response.headers.get('HX-Retarget')).toBe('#caf\\0000e9')
  })

  it.each([
    ['hxRetarget', hxRetarget],
    ['hxReswap', hxReswap],
    ['hxReselect', hxReselect],
  ])('%s rejects header injection', async (_name, helper) => {
    for (const value of ['#a\r\nSet-Cookie: a=b', '#a\nX: y', '#a\u0000', '', ' ']) {
      const response = await respond((c) => helper(c, value))
      expect(response.status, JSON.stringify(value)).toBe(500)
      expect(await response.text(), JSON.stringify(value)).toBe('TypeError')
      expect(response.headers.get('Set-Cookie')).toBeNull()
    }
  })
})

describe('hxTrigger', () => {
  it('sends one event name', async () => {
    const response = await respond((c) => hxTrigger(c, 'saved'))
    expect(response.headers.get('HX-Trigger')).toBe('saved')
  })

  it('sends a list of names', async () => {
    const response = await respond((c) => hxTrigger(c, ['saved', 'htmx:closeModal']))
    expect(response.headers.get('HX-Trigger')).toBe('saved, htmx:closeModal')
  })

  it('merges repeated calls', async () => {
    const response = await respond((c) => {
      hxTrigger(c, 'saved')
      hxTrigger(c, ['closed', 'saved'])
    })
    expect(response.headers.get('HX-Trigger')).toBe('saved, closed')
  })

  it('sends details as JSON', async () => {
    const response = await respond((c) => {
      hxTrigger(c, 'saved')
      hxTrigger(c, { showMessage: { level: 'info', text: 'Saved' } })
      hxTrigger(c, { count: 1 })
      hxTrigger(c, { count: 2 })
    })
    expect(JSON.parse(response.headers.get('HX-Trigger') ?? '')).toEqual({
      saved: {},
      showMessage: { level: 'info', text: 'Saved' },
      count: 2,
    })
  })

  it('sends each timing in its own header', async () => {
    const response = await respond((c) => {
      hxTrigger(c, 'received')
      hxTrigger(c, 'swapped', { timing: 'swap' })
      hxTrigger(c, 'settled', { timing: 'settle' })
    })
    expect(response.headers.get('HX-Trigger')).toBe('received')
    expect(response.headers.get('HX-Trigger-After-Swap')).toBe('swapped')
    expect(response.headers.get('HX-Trigger-After-Settle')).toBe('settled')
  })

  it('encodes hostile details as ASCII JSON', async () => {
    const detail = { text: 'a\r\nSet-Cookie: a=b</script>', note: 'café ✓ 😀' }
    const response = await respond((c) => hxTrigger(c, { message: detail }))
    const header = response.headers.get('HX-Trigger') ?? ''
    expect(header).toMatch(/^[\x20-\x7e]+$/)
    expect(JSON.parse(header)).toEqual({ message: detail })
    expect(response.headers.get('Set-Cookie')).toBeNull()
  })

  it('encodes odd names as JSON', async () => {
    const response = await respond((c) => hxTrigger(c, ['a,b', 'été', '__proto__']))
    const header = response.headers.get('HX-Trigger') ?? ''
    expect(header).toMatch(/^[\x20-\x7e]+$/)
    expect(Object.keys(JSON.parse(header))).toEqual(['a,b', 'été', '__proto__'])
  })

  it('rejects names with control characters', async () => {
    for (const events of ['saved\r\nSet-Cookie: a=b', ['ok', 'bad\n'], { 'x\ry': 1 }, '']) {
      const response = await respond((c) => hxTrigger(c, events))
      expect(response.status, JSON.stringify(events)).toBe(500)
      expect(await response.text(), JSON.stringify(events)).toBe('TypeError')
      expect(response.headers.get('Set-Cookie')).toBeNull()
    }
  })
})
