import { describe, expect, test } from 'vitest'
import { InvalidSettingsError } from '../errors/index.ts'
import {
  BoundedMemo,
  clientAddress,
  forwardedHost,
  forwardedOrigin,
  forwardedProto,
  normalizeAddress,
  parseTrustedProxies,
  parseTrustedProxyEntry,
  rateLimitKey,
} from './client-address.ts'

describe('rateLimitKey', () => {
  test('groups IPv6 addresses by /64', () => {
    expect(rateLimitKey('2001:db8:1:2::1')).toBe(rateLimitKey('2001:db8:1:2:ffff::9'))
    expect(rateLimitKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64')
  })

  test('separates different /64 networks', () => {
    expect(rateLimitKey('2001:db8:1:2::1')).not.toBe(rateLimitKey('2001:db8:1:3::1'))
  })

  test('IPv4-mapped IPv6 counts as IPv4', () => {
    expect(rateLimitKey('::ffff:192.0.2.1')).toBe(rateLimitKey('192.0.2.1'))
    expect(rateLimitKey('::ffff:c000:201')).toBe('192.0.2.1')
  })

  test('keeps each IPv4 address apart', () => {
    expect(rateLimitKey('192.0.2.1')).toBe('192.0.2.1')
    expect(rateLimitKey('192.0.2.2')).not.toBe(rateLimitKey('192.0.2.1'))
  })

  test('ignores case and zone ids', () => {
    expect(rateLimitKey('2001:DB8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(rateLimitKey('fe80::1%eth0')).toBe('fe80::/64')
  })

  test('returns a non-address unchanged', () => {
    expect(rateLimitKey('unknown')).toBe('unknown')
    expect(rateLimitKey('')).toBe('')
  })
})

describe('normalizeAddress', () => {
  test.each([
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    [' 192.0.2.1 ', '192.0.2.1'],
  ])('%s becomes %s', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected)
  })

  test.each(['', 'unknown', '192.0.2', '192.0.2.256', '01.2.3.4', '1::2::3', '_hidden'])(
    'rejects %j',
    (input) => {
      expect(normalizeAddress(input)).toBeUndefined()
    },
  )
})

describe('parseTrustedProxyEntry', () => {
  test.each([
    ['10.0.0.1', [{ family: 'ipv4', network: '10.0.0.1', prefix: 32 }]],
    ['10.0.0.0/8', [{ family: 'ipv4', network: '10.0.0.0', prefix: 8 }]],
    ['2001:db8::/32', [{ family: 'ipv6', network: '2001:db8::', prefix: 32 }]],
    ['::ffff:10.0.0.0/104', [{ family: 'ipv4', network: '10.0.0.0', prefix: 8 }]],
    ['::1', [{ family: 'ipv6', network: '::1', prefix: 128 }]],
  ])('accepts %s', (entry, expected) => {
    expect(parseTrustedProxyEntry(entry)).toEqual(expected)
  })

  test('accepts the named ranges', () => {
    for (const name of ['loopback', 'linklocal', 'uniquelocal']) {
      expect(Array.isArray(parseTrustedProxyEntry(name))).toBe(true)
    }
  })

  test.each([
    ['proxy.internal', /not an IP address/],
    ['10.0.0.0/33', /prefix length over 32/],
    ['2001:db8::/129', /prefix length over 128/],
    ['10.0.0.0/', /invalid prefix length/],
    ['10.0.0.0/08', /invalid prefix length/],
    ['10.0.0.0/-1', /invalid prefix length/],
    ['10.0.0.1/8', /host bits set; did you mean 10\.0\.0\.0\/8/],
    ['0.0.0.0/0', /trusts every address/],
    ['::/0', /trusts every address/],
    ['::ffff:10.0.0.0/64', /IPv4-mapped/],
    ['__proto__', /not an IP address/],
  ])('rejects %s', (entry, reason) => {
    const parsed = parseTrustedProxyEntry(entry)
    expect(typeof parsed).toBe('string')
    expect(parsed).toMatch(reason)
  })
})

describe('parseTrustedProxies', () => {
  test('matches addresses inside the ranges', () => {
    const trusted = parseTrustedProxies(['10.0.0.0/8', '2001:db8::/32', 'loopback'])
    expect(trusted.none).toBe(false)
    expect(trusted.includes('10.200.0.1')).toBe(true)
    expect(trusted.includes('::ffff:10.200.0.1')).toBe(true)
    expect(trusted.includes('2001:DB8:ffff::1')).toBe(true)
    expect(trusted.includes('127.0.0.1')).toBe(true)
    expect(trusted.includes('::1')).toBe(true)
    expect(trusted.includes('11.0.0.1')).toBe(false)
    expect(trusted.includes('2001:db9::1')).toBe(false)
    expect(trusted.includes('garbage')).toBe(false)
  })

  test('empty list trusts nobody', () => {
    const trusted = parseTrustedProxies([])
    expect(trusted.none).toBe(true)
    expect(trusted.includes('127.0.0.1')).toBe(false)
  })

  test('throws naming every invalid entry', () => {
    let caught: unknown
    try {
      parseTrustedProxies(['10.0.0.1', 'nope', '0.0.0.0/0'])
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidSettingsError)
    expect((caught as InvalidSettingsError).code).toBe('E_INVALID_SETTINGS')
    expect((caught as Error).message).toContain('"nope"')
    expect((caught as Error).message).toContain('"0.0.0.0/0"')
  })
})

describe('clientAddress', () => {
  const noProxy = parseTrustedProxies([])
  const oneHop = parseTrustedProxies(['10.0.0.2'])
  const twoHops = parseTrustedProxies(['10.0.0.0/24', '2001:db8:ffff::/48'])

  test('untrusted peer ignores a spoofed X-Forwarded-For', () => {
    expect(clientAddress('198.51.100.20', '203.0.113.7', noProxy)).toBe('198.51.100.20')
    expect(clientAddress('198.51.100.20', '203.0.113.7, 198.51.100.20', noProxy)).toBe(
      '198.51.100.20',
    )
  })

  test('untrusted peer ignores X-Forwarded-For with proxies configured', () => {
    expect(clientAddress('198.51.100.20', '203.0.113.7', oneHop)).toBe('198.51.100.20')
  })

  test('one trusted hop gives the right-most entry', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7', oneHop)).toBe('203.0.113.7')
  })

  test('one trusted hop ignores entries the client sent', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.1, 203.0.113.7', oneHop)).toBe('203.0.113.7')
  })

  test('skips trusted entries from the right', () => {
    const header = '198.51.100.1, 203.0.113.7, 10.0.0.9, 2001:db8:ffff::5'
    expect(clientAddress('10.0.0.3', header, twoHops)).toBe('203.0.113.7')
  })

  test('every entry trusted gives the left-most', () => {
    expect(clientAddress('10.0.0.3', '10.0.0.5, 10.0.0.4', twoHops)).toBe('10.0.0.5')
  })

  test('trusted peer without the header is the client', () => {
    expect(clientAddress('10.0.0.2', undefined, oneHop)).toBe('10.0.0.2')
  })

  test('malformed entry stops at the last valid address', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7, unknown', oneHop)).toBe('10.0.0.2')
    expect(clientAddress('10.0.0.3', '203.0.113.7, _hidden, 10.0.0.4', twoHops)).toBe('10.0.0.4')
    expect(clientAddress('10.0.0.2', '', oneHop)).toBe('10.0.0.2')
    expect(clientAddress('10.0.0.2', '203.0.113.7,,', oneHop)).toBe('10.0.0.2')
  })

  test('accepts entries with ports', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7:51234', oneHop)).toBe('203.0.113.7')
    expect(clientAddress('10.0.0.2', '[2001:db8::7]:443', oneHop)).toBe('2001:db8::7')
  })

  test('normalizes IPv4-mapped peers and entries', () => {
    expect(clientAddress('::ffff:10.0.0.2', '::ffff:203.0.113.7', oneHop)).toBe('203.0.113.7')
    expect(clientAddress('::ffff:192.0.2.1', undefined, noProxy)).toBe('192.0.2.1')
  })

  test('returns a non-address peer unchanged', () => {
    expect(clientAddress('', '203.0.113.7', oneHop)).toBe('')
  })

  test('long header of trusted entries stays linear', () => {
    const header = Array.from({ length: 2000 }, () => '10.0.0.9').join(', ')
    expect(clientAddress('10.0.0.3', `203.0.113.7, ${header}`, twoHops)).toBe('203.0.113.7')
  })
})

describe('forwardedProto and forwardedHost', () => {
  const trusted = parseTrustedProxies(['10.0.0.2'])

  test('believed from a trusted peer', () => {
    expect(forwardedProto('10.0.0.2', 'https', trusted)).toBe('https')
    expect(forwardedProto('10.0.0.2', 'HTTPS, http', trusted)).toBe('https')
    expect(forwardedHost('10.0.0.2', 'App.Example:8443', trusted)).toBe('app.example:8443')
    expect(forwardedHost('10.0.0.2', '[2001:db8::1]:443', trusted)).toBe('[2001:db8::1]:443')
  })

  test('ignored from an untrusted peer', () => {
    expect(forwardedProto('203.0.113.7', 'https', trusted)).toBeUndefined()
    expect(forwardedHost('203.0.113.7', 'evil.example', trusted)).toBeUndefined()
  })

  test('invalid values are ignored', () => {
    expect(forwardedProto('10.0.0.2', 'javascript', trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', 'evil.example/path', trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', 'a b', trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', 'app.example:70000', trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', 'user@app.example', trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', '', trusted)).toBeUndefined()
  })

  test('missing headers give undefined', () => {
    expect(forwardedProto('10.0.0.2', undefined, trusted)).toBeUndefined()
    expect(forwardedHost('10.0.0.2', undefined, trusted)).toBeUndefined()
  })
})

describe('forwardedOrigin', () => {
  const trusted = parseTrustedProxies(['10.0.0.2'])
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' }

  test('trusted peer gives the forwarded origin', () => {
    expect(forwardedOrigin('10.0.0.2', 'http://10.0.0.5:8000/x', forwarded, trusted)).toBe(
      'https://app.example',
    )
  })

  test('untrusted peer gives the request origin', () => {
    expect(forwardedOrigin('203.0.113.7', 'http://10.0.0.5:8000/x', forwarded, trusted)).toBe(
      'http://10.0.0.5:8000',
    )
  })

  test('drops default ports', () => {
    const headers = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example:443' }
    expect(forwardedOrigin('10.0.0.2', 'http://10.0.0.5:8000/', headers, trusted)).toBe(
      'https://app.example',
    )
  })

  test('keeps the request host without X-Forwarded-Host', () => {
    const headers = { 'x-forwarded-proto': 'https' }
    expect(forwardedOrigin('10.0.0.2', 'http://app.example/', headers, trusted)).toBe(
      'https://app.example',
    )
  })

  test('ignores invalid forwarded values', () => {
    const headers = { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'evil.example/x' }
    expect(forwardedOrigin('10.0.0.2', 'http://app.example/', headers, trusted)).toBe(
      'http://app.example',
    )
  })
})

describe('BoundedMemo', () => {
  test('computes each key once', () => {
    const memo = new BoundedMemo<string>(10)
    let calls = 0
    const compute = () => {
      calls += 1
      return `value ${calls}`
    }
    expect(memo.get('a', compute)).toBe('value 1')
    expect(memo.get('a', compute)).toBe('value 1')
    expect(calls).toBe(1)
  })

  test('keeps an undefined result', () => {
    const memo = new BoundedMemo<string | undefined>(10)
    let calls = 0
    memo.get('a', () => {
      calls += 1
      return undefined
    })
    memo.get('a', () => {
      calls += 1
      return undefined
    })
    expect(calls).toBe(1)
  })

  test('empties itself when full', () => {
    const memo = new BoundedMemo<number>(2)
    memo.get('a', () => 1)
    memo.get('b', () => 2)
    // The third key drops the first two.
    expect(memo.get('c', () => 3)).toBe(3)
    expect(memo.get('a', () => 10)).toBe(10)
  })
})
