import { describe, expect, it } from 'vitest'
import { hasDotSegment, parseStaticPath, rawPathOf } from './request-path.ts'

describe('parseStaticPath', () => {
  it('decodes canonical segments', () => {
    expect(parseStaticPath('css/site.css')).toEqual({ ok: true, segments: ['css', 'site.css'] })
    expect(parseStaticPath('docs/caf%C3%A9%20menu.txt')).toEqual({
      ok: true,
      segments: ['docs', 'café menu.txt'],
    })
  })

  const rejected: [string, string, number][] = [
    ['admin%2Fsecret.txt', 'encoded_separator', 400],
    ['admin%2fsecret.txt', 'encoded_separator', 400],
    ['admin%5Csecret.txt', 'encoded_separator', 400],
    ['admin%5csecret.txt', 'encoded_separator', 400],
    ['admin\\secret.txt', 'backslash', 400],
    ['./admin/secret.txt', 'dot_segment', 400],
    ['x/../admin/secret.txt', 'dot_segment', 400],
    ['x/%2e%2e/admin/secret.txt', 'dot_segment', 400],
    ['x/%2E%2E/admin/secret.txt', 'dot_segment', 400],
    ['x/.%2e/admin/secret.txt', 'dot_segment', 400],
    ['%2e/admin/secret.txt', 'dot_segment', 400],
    ['/admin/secret.txt', 'empty_segment', 400],
    ['admin//secret.txt', 'empty_segment', 400],
    ['%61dmin/secret.txt', 'encoded_unreserved', 400],
    ['admin/secret%2etxt', 'encoded_unreserved', 400],
    ['admin/secret%7E.txt', 'encoded_unreserved', 400],
    ['admin/secret.txt%00', 'control_character', 400],
    ['admin/secret.txt%0d%0a', 'control_character', 400],
    ['admin/secret.txt%', 'invalid_encoding', 400],
    ['admin/secret.txt%zz', 'invalid_encoding', 400],
    ['admin/secret.txt%C0%AF', 'invalid_encoding', 400],
    ['.env', 'dotfile', 404],
    ['.git/config', 'dotfile', 404],
    ['%2eenv', 'encoded_unreserved', 400],
    ['', 'directory', 404],
    ['css/', 'directory', 404],
  ]

  it.each(rejected)('rejects %s as %s', (rest, reason, status) => {
    expect(parseStaticPath(rest)).toEqual({ ok: false, reason, status })
  })

  it('prefers 400 over dotfile 404', () => {
    expect(parseStaticPath('.git/a%2Fb')).toMatchObject({
      reason: 'encoded_separator',
      status: 400,
    })
  })
})

describe('rawPathOf', () => {
  it('returns the path as written', () => {
    expect(rawPathOf('http://localhost/static/x/../a%2Fb?q=1#f')).toBe('/static/x/../a%2Fb')
    expect(rawPathOf('/static//admin?x')).toBe('/static//admin')
    expect(rawPathOf('http://localhost')).toBe('/')
  })
})

describe('hasDotSegment', () => {
  it('finds raw and encoded dot segments', () => {
    expect(hasDotSegment('/static/x/../a')).toBe(true)
    expect(hasDotSegment('/static/./a')).toBe(true)
    expect(hasDotSegment('/static/%2E%2e/a')).toBe(true)
    expect(hasDotSegment('/static/..a/.b')).toBe(false)
  })
})
