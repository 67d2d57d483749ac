import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { InvalidSettingsError } from '../errors/index.ts'

/**
 * Client addresses behind reverse proxies.
 *
 * `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are request headers, so any
 * client can send them. They are read only when the TCP peer is a configured trusted proxy,
 * and `X-Forwarded-For` is read from the right: each trusted proxy appends the address it
 * received the request from, so everything left of the first untrusted entry was written by
 * someone we do not trust.
 */

/** Maximum number of cached trusted-proxy results, per `parseTrustedProxies()` result. */
const MAX_CACHED_ADDRESSES = 1024

/** The set of proxies whose forwarded headers are believed. */
export interface TrustedProxies {
  /** Returns true when the address, in any textual form, is a trusted proxy. */
  includes(address: string): boolean
  /** True when no proxy is trusted, so forwarded headers are never read. */
  readonly none: boolean
}

/** An address family and a network of that family, as `BlockList.addSubnet` takes them. */
interface Subnet {
  family: 'ipv4' | 'ipv6'
  network: string
  prefix: number
}

/**
 * Named ranges, with the names Express's `trust proxy` setting uses (from proxy-addr):
 * loopback, link-local and unique-local (private) addresses.
 */
const NAMED_RANGES = new Map<string, Subnet[]>([
  [
    'loopback',
    [
      { family: 'ipv4', network: '127.0.0.0', prefix: 8 },
      { family: 'ipv6', network: '::1', prefix: 128 },
    ],
  ],
  [
    'linklocal',
    [
      { family: 'ipv4', network: '169.254.0.0', prefix: 16 },
      { family: 'ipv6', network: 'fe80::', prefix: 10 },
    ],
  ],
  [
    'uniquelocal',
    [
      { family: 'ipv4', network: '10.0.0.0', prefix: 8 },
      { family: 'ipv4', network: '172.16.0.0', prefix: 12 },
      { family: 'ipv4', network: '192.168.0.0', prefix: 16 },
      { family: 'ipv6', network: 'fc00::', prefix: 7 },
    ],
  ],
])

/**
 * Parses one `trusted_proxies` entry: an IPv4 or IPv6 address, a CIDR range such as
 * `10.0.0.0/8` or `2001:db8::/32`, or one of the names `loopback`, `linklocal` and
 * `uniquelocal`.
 *
 * Returns the subnets, or the reason the entry is invalid as a sentence fragment that
 * follows the entry ("is not an IP address …").
 */
export function parseTrustedProxyEntry(entry: string): Subnet[] | string {
  const text = entry.trim()
  const named = NAMED_RANGES.get(text)
  if (named !== undefined) return named

  const slash = text.indexOf('/')
  const addressPart = slash === -1 ? text : text.slice(0, slash)
  const hextets = parseAddress(addressPart)
  if (hextets === undefined) {
    return 'is not an IP address, a CIDR range or one of loopback, linklocal, uniquelocal'
  }
  const family = isIPv4Mapped(hextets) ? 'ipv4' : 'ipv6'
  const bits = family === 'ipv4' ? 32 : 128

  if (slash === -1) return [{ family, network: formatAddress(hextets), prefix: bits }]

  const prefixText = text.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
    return `has an invalid prefix length "/${prefixText}"; use a number from 1 to ${bits}`
  }

  // An IPv4-mapped IPv6 range such as ::ffff:10.0.0.0/104 covers IPv4 addresses only.
  let prefix = Number(prefixText)
  if (family === 'ipv4' && addressPart.includes(':')) {
    if (prefix < 96) return 'mixes IPv4-mapped and other IPv6 addresses; list them apart'
    prefix -= 96
  }
  if (prefix > bits) return `has a prefix length over ${bits}`

  // Trusting every address would let any client write X-Forwarded-For.
  if (prefix === 0) {
    return 'trusts every address, so any client could forge X-Forwarded-For; list the proxies'
  }

  // IPv4 addresses are held as their IPv4-mapped form, 96 bits into the groups.
  const network = maskAddress(hextets, family === 'ipv4' ? prefix + 96 : prefix)
  if (!sameHextets(network, hextets)) {
    return `has host bits set; did you mean ${formatAddress(network)}/${prefix}?`
  }
  return [{ family, network: formatAddress(network), prefix }]
}

/**
 * Builds the matcher for the `trusted_proxies` setting.
 *
 * @throws InvalidSettingsError naming every invalid entry.
 * @example
 * const trusted = parseTrustedProxies(['10.0.0.0/8', '2001:db8::1', 'loopback'])
 * trusted.includes('::ffff:10.1.2.3') // true
 */
export function parseTrustedProxies(list: readonly string[]): TrustedProxies {
  const blockList = new BlockList()
  const problems: string[] = []

  for (const entry of list) {
    const parsed = parseTrustedProxyEntry(entry)
    if (typeof parsed === 'string') {
      problems.push(`trusted_proxies entry "${entry}" ${parsed}`)
      continue
    }
    for (const subnet of parsed) blockList.addSubnet(subnet.network, subnet.prefix, subnet.family)
  }
  if (problems.length > 0) throw new InvalidSettingsError(problems.join('\n'))

  const none = list.length === 0
  // Every request checks its TCP peer, and the peers are few (the proxies themselves), so
  // the results are cached. The cache is emptied when full, which bounds it against clients
  // that send many forwarded addresses.
  const known = new Map<string, boolean>()
  return {
    none,
    includes(address: string): boolean {
      if (none) return false
      const cached = known.get(address)
      if (cached !== undefined) return cached
      const normalized = normalizeAddress(address)
      const trusted =
        normalized !== undefined &&
        blockList.check(normalized, normalized.includes(':') ? 'ipv6' : 'ipv4')
      if (known.size >= MAX_CACHED_ADDRESSES) known.clear()
      known.set(address, trusted)
      return trusted
    },
  }
}

/**
 * Resolves the client address of a request.
 *
 * When the TCP peer is not a trusted proxy, the peer is the client and `X-Forwarded-For` is
 * ignored whatever it contains. When the peer is trusted, the header is walked from the right,
 * skipping trusted proxies, and the first untrusted entry is the client. A malformed entry
 * (an obfuscated identifier, `unknown`, garbage) stops the walk and the last valid address
 * seen is used. When every entry is trusted, the left-most one is returned.
 *
 * The result is normalized: IPv4-mapped IPv6 addresses become IPv4, IPv6 is in canonical
 * form (RFC 5952). A peer that is not an IP address is returned unchanged.
 *
 * @example
 * const trusted = parseTrustedProxies(['10.0.0.2'])
 * clientAddress('10.0.0.2', '198.51.100.7, 203.0.113.9', trusted) // '203.0.113.9'
 * clientAddress('203.0.113.9', '198.51.100.7', trusted) // '203.0.113.9'
 */
export function clientAddress(
  remoteAddress: string,
  forwardedFor: string | undefined,
  trusted: TrustedProxies,
): string {
  const peer = normalizeAddress(remoteAddress)
  if (peer === undefined) return remoteAddress

  // Untrusted peer: its X-Forwarded-For is whatever the client chose to send.
  if (!trusted.includes(peer)) return peer
  if (forwardedFor === undefined) return peer

  let candidate = peer
  const entries = forwardedFor.split(',')
  for (let index = entries.length - 1; index >= 0; index--) {
    const entry = normalizeForwardedEntry(entries.at(index) ?? '')

    // Malformed entry: nothing left of it can be attributed to a known hop.
    if (entry === undefined) return candidate
    candidate = entry
    if (!trusted.includes(entry)) return entry
  }
  return candidate
}

/**
 * Returns the scheme from `X-Forwarded-Proto` when the peer is a trusted proxy and the value
 * is `http` or `https`, otherwise undefined. Of a comma-separated list the left-most value is
 * used, the one the proxy facing the client set, as Express does.
 */
export function forwardedProto(
  remoteAddress: string,
  header: string | undefined,
  trusted: TrustedProxies,
): 'http' | 'https' | undefined {
  if (header === undefined || !trusted.includes(remoteAddress)) return undefined
  const value = firstListValue(header).toLowerCase()
  if (value === 'http' || value === 'https') return value
  return undefined
}

/**
 * Returns the host from `X-Forwarded-Host`, lowercased, when the peer is a trusted proxy and
 * the value is a valid `host[:port]`, otherwise undefined. Of a comma-separated list the
 * left-most value is used.
 *
 * NOTE: a proxy that passes a client's own `X-Forwarded-Host` through lets the client choose
 * this value; set `origin` in app.yml to make the origin independent of request headers.
 */
export function forwardedHost(
  remoteAddress: string,
  header: string | undefined,
  trusted: TrustedProxies,
): string | undefined {
  if (header === undefined || !trusted.includes(remoteAddress)) return undefined
  const value = firstListValue(header).toLowerCase()
  return isValidHost(value) ? value : undefined
}

/**
 * Returns the origin a request was sent to, such as `https://app.example`: the scheme and
 * host of the request URL, replaced by `X-Forwarded-Proto` and `X-Forwarded-Host` when the
 * peer is a trusted proxy and the values are valid. Default ports are dropped.
 *
 * @param headers request headers by name, as Hono's `c.req.header()` returns them.
 * @example
 * forwardedOrigin(peer, c.req.url, c.req.header(), trusted) // 'https://app.example'
 */
export function forwardedOrigin(
  remoteAddress: string,
  requestUrl: string,
  headers: Record<string, string | undefined>,
  trusted: TrustedProxies,
): string {
  const url = new URL(requestUrl)
  if (trusted.none) return url.origin

  const proto = forwardedProto(remoteAddress, headerValue(headers, 'x-forwarded-proto'), trusted)
  const host = forwardedHost(remoteAddress, headerValue(headers, 'x-forwarded-host'), trusted)
  if (proto === undefined && host === undefined) return url.origin
  try {
    return new URL(`${proto ?? url.protocol.slice(0, -1)}://${host ?? url.host}`).origin
  } catch {
    return url.origin
  }
}

function headerValue(
  headers: Record<string, string | undefined>,
  name: string,
): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value
  }
  return undefined
}

/**
 * Returns the key that groups a client for rate limiting: an IPv4 address as is, and an
 * IPv6 address by its /64 network (as `2001:db8:1:2::/64`), because one subscriber usually
 * gets a whole /64 and can rotate addresses inside it at will. IPv4-mapped IPv6 addresses
 * count as the IPv4 address. A value that is not an IP address is returned unchanged.
 *
 * @example
 * rateLimitKey('2001:db8:1:2::1') === rateLimitKey('2001:db8:1:2:ffff::9') // true
 * rateLimitKey('::ffff:192.0.2.1') === rateLimitKey('192.0.2.1') // true
 */
export function rateLimitKey(address: string): string {
  const hextets = parseAddress(stripZone(address.trim()))
  if (hextets === undefined) return address
  if (isIPv4Mapped(hextets)) return formatAddress(hextets)
  return `${formatAddress(maskAddress(hextets, 64))}/64`
}

/**
 * Returns the canonical text of an IP address (IPv4-mapped IPv6 as IPv4, IPv6 per RFC 5952,
 * zone id dropped), or undefined when the text is not an IP address.
 */
export function normalizeAddress(address: string): string | undefined {
  const hextets = parseAddress(stripZone(address.trim()))
  return hextets === undefined ? undefined : formatAddress(hextets)
}

/** Accepts the forms proxies write: `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, `[v6]:port`. */
function normalizeForwardedEntry(raw: string): string | undefined {
  const entry = raw.trim()
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']')
    if (close === -1 || !isPortSuffix(entry.slice(close + 1))) return undefined
    return normalizeAddress(entry.slice(1, close))
  }

  // One colon: IPv4 with a port. More than one: an IPv6 address without brackets.
  const colon = entry.indexOf(':')
  if (colon !== -1 && colon === entry.lastIndexOf(':')) {
    const address = entry.slice(0, colon)
    if (!isIPv4(address) || !isPortSuffix(entry.slice(colon))) return undefined
    return normalizeAddress(address)
  }
  return normalizeAddress(entry)
}

/** True for an empty string or `:` followed by a port number. */
function isPortSuffix(text: string): boolean {
  if (text === '') return true
  if (!/^:\d{1,5}$/.test(text)) return false
  return Number(text.slice(1)) <= 65535
}

function firstListValue(header: string): string {
  const comma = header.indexOf(',')
  return (comma === -1 ? header : header.slice(0, comma)).trim()
}

/** Checks one DNS label. Underscores are allowed because some internal host names use them. */
function isHostLabel(label: string): boolean {
  return /^[a-z0-9_-]{1,63}$/.test(label) && !label.startsWith('-') && !label.endsWith('-')
}

function isValidHost(value: string): boolean {
  let host = value
  const colon = value.lastIndexOf(':')
  if (colon !== -1 && !value.endsWith(']')) {
    if (!isPortSuffix(value.slice(colon))) return false
    host = value.slice(0, colon)
  }
  if (host.startsWith('[') && host.endsWith(']')) return isIPv6(host.slice(1, -1))
  if (isIPv4(host)) return true

  // A host name: labels separated by dots, with an optional trailing dot.
  const name = host.endsWith('.') ? host.slice(0, -1) : host
  if (name.length === 0 || name.length > 253) return false
  return name.split('.').every(isHostLabel)
}

function stripZone(address: string): string {
  const percent = address.indexOf('%')
  return percent === -1 || !address.includes(':') ? address : address.slice(0, percent)
}

/**
 * Parses an IPv4 or IPv6 address into eight 16-bit groups, IPv4 as its IPv4-mapped IPv6
 * form (`::ffff:a.b.c.d`). Returns undefined for anything that `node:net` rejects.
 */
function parseAddress(address: string): number[] | undefined {
  if (isIPv4(address)) return [0, 0, 0, 0, 0, 0xffff, ...ipv4Hextets(address)]
  if (!isIPv6(address)) return undefined

  let text = address.toLowerCase()
  let tail: number[] = []
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.', lastColon)) {
    tail = ipv4Hextets(text.slice(lastColon + 1))
    text = `${text.slice(0, lastColon + 1)}0:0`
  }

  const [head = '', rest] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups]
  const hextets = groups.map((group) => parseInt(group, 16))
  if (tail.length === 2) hextets.splice(6, 2, ...tail)
  return hextets
}

function ipv4Hextets(address: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number)
  return [(a << 8) | b, (c << 8) | d]
}

function isIPv4Mapped(hextets: number[]): boolean {
  return hextets.slice(0, 5).every((group) => group === 0) && hextets[5] === 0xffff
}

function maskAddress(hextets: number[], prefix: number): number[] {
  return hextets.map((group, index) => {
    const bits = Math.min(16, Math.max(0, prefix - index * 16))
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff)
  })
}

function sameHextets(left: number[], right: number[]): boolean {
  return left.every((group, index) => group === right.at(index))
}

/** Formats eight groups as IPv4 when IPv4-mapped, otherwise as RFC 5952 IPv6 text. */
function formatAddress(hextets: number[]): string {
  if (isIPv4Mapped(hextets)) {
    const [high = 0, low = 0] = hextets.slice(6)
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  }

  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1
  let bestLength = 1
  for (let start = 0; start < 8; start++) {
    let length = 0
    while (start + length < 8 && hextets[start + length] === 0) length++
    if (length > bestLength) {
      bestStart = start
      bestLength = length
    }
  }

  const groups = hextets.map((group) => group.toString(16))
  if (bestStart === -1) return groups.join(':')
  const head = groups.slice(0, bestStart).join(':')
  const tail = groups.slice(bestStart + bestLength).join(':')
  return `${head}::${tail}`
}

/**
 * Results computed from request headers, kept by key up to a fixed count and all dropped
 * when that count is reached. Clients choose the keys, so the count bounds the memory they
 * can fill, and normal traffic, with few distinct proxies and hosts, hits the cache.
 */
export class BoundedMemo<T> {
  readonly #values = new Map<string, T>()
  readonly #maxEntries: number

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  /** Returns the value kept for `key`, or computes, keeps and returns it. */
  get(key: string, compute: () => T): T {
    const cached = this.#values.get(key)
    if (cached !== undefined || this.#values.has(key)) return cached as T
    const value = compute()
    if (this.#values.size >= this.#maxEntries) this.#values.clear()
    this.#values.set(key, value)
    return value
  }
}
