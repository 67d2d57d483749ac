import { describe, expect, test } from 'vitest'
import { isCanonicalPath, rawPathOf } from './canonical-path.ts'

describe('isCanonicalPath', () => {
  const canonical = ['/', '/admin/users', '/notes/12', '/static/site.css', '/a%20b', '/caf%C3%A9']
  for (const path of canonical) {
    test(`accepts ${path}`, () => {
      expect(isCanonicalPath(path)).toBe(true)
    })
  }

  const rejected = [
    '/admin//users',
    '//admin/users',
    '/admin/./users',
    '/x/../admin/users',
    '/admin/users/.',
    '/admin/users/..',
    '/admin%2Fusers',
    '/admin%2fusers',
    '/admin%5Cusers',
    '/admin\\users',
    '/%2e%2e/admin',
    '/admin%00',
    '/admin%0a',
    '/admin\tusers',
    '/admin%E0%A4%A',
    'admin/users',
  ]
  for (const path of rejected) {
    test(`rejects ${JSON.stringify(path)}`, () => {
      expect(isCanonicalPath(path)).toBe(false)
    })
  }
})

describe('rawPathOf', () => {
  test('keeps encoding and drops query', () => {
    expect(rawPathOf('http://app.example/a%2Fb/./c?x=1#f')).toBe('/a%2Fb/./c')
  })

  test('host without path is root', () => {
    expect(rawPathOf('http://app.example')).toBe('/')
  })
})
