import type { Context } from 'hono'
import { describe, expect, test } from 'vitest'
import type { FastBlocksEnv } from './env.ts'
import { templateContext } from './render.ts'

const assets = { htmx: '/h.js', fastblocks: '/f.js', htmxConfig: '{}' }

function fakeContext(): Context<FastBlocksEnv> {
  const values = new Map<string, unknown>([
    ['cspNonce', 'bm9uY2U='],
    ['csrfToken', () => 'token-"&<'],
    ['htmx', { request: false }],
  ])
  return { get: (key: string) => values.get(key), req: { path: '/page' } } as never
}

describe('templateContext', () => {
  test('framework values replace user data', () => {
    const context = templateContext(fakeContext(), { csrf_token: 'off', title: 'Home' }, assets)
    expect(context.title).toBe('Home')
    expect(String(context.csrf_token)).toBe(
      '<input type="hidden" name="csrf_token" value="token-&quot;&amp;&lt;">',
    )
    expect(context.csp_nonce).toBe('bm9uY2U=')
  })

  test('own __proto__ key is dropped', () => {
    const data = JSON.parse('{"__proto__": {"polluted": "yes"}, "title": "Home"}') as Record<
      string,
      unknown
    >
    const context = templateContext(fakeContext(), data, assets)
    expect(Object.getPrototypeOf(context)).toBe(Object.prototype)
    expect(context.polluted).toBeUndefined()
    expect(Object.hasOwn(context, '__proto__')).toBe(false)
    expect(context.title).toBe('Home')
  })

  test('null data gives only framework values', () => {
    // Plain JavaScript callers pass null, such as a database lookup that found no row.
    const context = templateContext(fakeContext(), null as unknown as undefined, assets)
    expect(context.csp_nonce).toBe('bm9uY2U=')
    expect(Object.getPrototypeOf(context)).toBe(Object.prototype)
  })

  test('one token per render', () => {
    let issued = 0
    const values = new Map<string, unknown>([
      ['cspNonce', 'bm9uY2U='],
      ['csrfToken', () => `token-${(issued += 1)}`],
    ])
    const c = { get: (key: string) => values.get(key), req: { path: '/' } } as never
    const context = templateContext(c, undefined, assets)
    expect(String(context.csrf_token_value)).toBe('token-1')
    expect(String(context.csrf_token)).toContain('value="token-1"')
    expect(String(context.fastblocks_head)).toContain('content="token-1"')
    expect(issued).toBe(1)
  })
})
