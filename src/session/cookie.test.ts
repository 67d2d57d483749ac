import { describe, expect, test } from 'vitest'
import { isValidCookieName, parseCookieHeader, serializeCookie } from './cookie.ts'

describe('parseCookieHeader', () => {
  test('reads every pair', () => {
    expect({ ...parseCookieHeader('a=1; b=two;c=3') }).toEqual({ a: '1', b: 'two', c: '3' })
  })

  test('returns a null-prototype object', () => {
    expect(Object.getPrototypeOf(parseCookieHeader('a=1'))).toBeNull()
  })

  test('first occurrence of a name wins', () => {
    expect(parseCookieHeader('session=S; session=garbage').session).toBe('S')
    expect(parseCookieHeader('session=garbage; session=S').session).toBe('garbage')
    expect(parseCookieHeader('session=S; session=garbage', 'session').session).toBe('S')
  })

  test('invalid percent escapes are kept as sent', () => {
    expect(parseCookieHeader('a=%; session=S')).toEqual(
      Object.assign(Object.create(null), { a: '%', session: 'S' }),
    )
    expect(parseCookieHeader('a=%E0%A4%A; session=S').a).toBe('%E0%A4%A')
    expect(parseCookieHeader('session=%').session).toBe('%')
  })

  test('valid percent escapes are decoded', () => {
    expect(parseCookieHeader('a=caf%C3%A9%20ok').a).toBe('café ok')
  })

  test('prototype names are ordinary keys', () => {
    const cookies = parseCookieHeader('__proto__=x; constructor=y; hasOwnProperty=z')
    expect(Object.getPrototypeOf(cookies)).toBeNull()
    expect(Object.keys(cookies)).toEqual(['__proto__', 'constructor', 'hasOwnProperty'])
    expect(cookies['__proto__']).toBe('x')
    expect(cookies.constructor).toBe('y')
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  test('skips pairs without a name or an equals sign', () => {
    expect({ ...parseCookieHeader('novalue; =empty; ;a=1;;') }).toEqual({ a: '1' })
  })

  test('trims whitespace and one pair of quotes', () => {
    expect({ ...parseCookieHeader(' a = 1 ;\tb="two" ; c="') }).toEqual({
      a: '1',
      b: 'two',
      c: '"',
    })
  })

  test('keeps equals signs inside the value', () => {
    expect(parseCookieHeader('a=b=c==').a).toBe('b=c==')
  })

  test('name filter returns only that cookie', () => {
    const header = 'other=1; session=S; third=3'
    expect({ ...parseCookieHeader(header, 'session') }).toEqual({ session: 'S' })
    expect({ ...parseCookieHeader(header, 'missing') }).toEqual({})
    expect({ ...parseCookieHeader('sessionx=1; xsession=2', 'session') }).toEqual({})
  })

  test('reads 200 cookies', () => {
    const pairs = Array.from({ length: 200 }, (_, index) => `c${index}=v${index}`)
    const cookies = parseCookieHeader([...pairs, 'session=S'].join('; '))
    expect(Object.keys(cookies)).toHaveLength(201)
    expect(cookies.c199).toBe('v199')
    expect(cookies.session).toBe('S')
  })

  test('empty header gives no cookies', () => {
    expect({ ...parseCookieHeader('') }).toEqual({})
  })
})

describe('serializeCookie', () => {
  test('sets the fixed attributes', () => {
    expect(serializeCookie('session', 'v', 60, { secure: false })).toBe(
      'session=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax',
    )
  })

  test('adds Secure when configured', () => {
    expect(serializeCookie('__Host-session', 'v', 0, { secure: true })).toBe(
      '__Host-session=v; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax',
    )
  })
})

describe('isValidCookieName', () => {
  test('accepts tokens and rejects separators', () => {
    expect(isValidCookieName('session')).toBe(true)
    expect(isValidCookieName('__Host-app_session.v2')).toBe(true)
    for (const name of ['', 'a b', 'a;b', 'a=b', 'a,b', 'sess\nion', 'é']) {
      expect(isValidCookieName(name)).toBe(false)
    }
  })
})
