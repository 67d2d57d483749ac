import { createCipheriv, createDecipheriv } from 'node:crypto'
import { pooledRandomBytes } from '../request-context/random-pool.ts'
import type { Keyring, SessionKey } from './keyring.ts'

/**
 * The plaintext sealed into the session cookie. Times are Unix times in seconds, checked
 * by the server on every request, because the browser's cookie expiry cannot be trusted.
 */
export interface SessionPayload {
  /** Session values by key, reserved `_` keys included. Every value is JSON. */
  data: Record<string, unknown>
  /** When the session started: at the first write, or at the last `regenerate()` or `clear()`. */
  createdAt: number
  /** When the cookie was last sealed for a request. */
  lastSeenAt: number
}

/** Reason a session cookie was not accepted. */
export type UnsealFailure =
  /** Longer than a cookie can be, so not produced by this layer. */
  | 'oversized'
  /** Not a compact JWE of this layer: wrong shape, encoding, header or algorithm. */
  | 'malformed'
  /** Sealed with a key that is not in the keyring, such as one retired by rotation. */
  | 'unknown_key'
  /** The authentication tag did not verify: the cookie was changed or forged. */
  | 'decryption_failed'
  /** Decrypted, but the plaintext is not a session payload. */
  | 'invalid_payload'

export type UnsealResult =
  | {
      ok: true
      payload: SessionPayload
      /** Id of the key that sealed the cookie. */
      kid: string
      /** True when that key is not the newest, so the cookie should be sealed again. */
      rotated: boolean
    }
  | { ok: false; reason: UnsealFailure }

/** Maximum length of a session cookie value that is unsealed, in characters. */
export const MAX_SEALED_LENGTH = 4096

const IV_BYTES = 12
const TAG_BYTES = 16

// base64url without padding, as JWE compact serialization requires.
const BASE64URL = /^[A-Za-z0-9_-]*$/
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Seals a session payload into a compact JWE (RFC 7516: `alg: dir`, `enc: A256GCM`) with
 * the newest key of the keyring, whose id goes into the protected `kid` header. Any JOSE
 * library, such as `jose`'s `compactDecrypt`, can open it with the derived key.
 *
 * The encryption runs synchronously through `node:crypto`: on Node 20 the WebCrypto
 * AES-GCM path that `jose` takes costs a thread-pool round trip per call, which made
 * sealing the largest part of a page request in the benchmarks under `bench/`.
 *
 * The result contains only base64url characters and dots, so it is a valid cookie value
 * without further encoding.
 *
 * @example
 * ```ts
 * const sealed = sealSession({ data: { userId: 42 }, createdAt: now, lastSeenAt: now }, keyring)
 * ```
 */
export function sealSession(payload: SessionPayload, keyring: Keyring): string {
  const { key, protectedHeader, additionalData } = keyring.current
  const iv = pooledRandomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  // The additional authenticated data of a compact JWE is the ASCII of the encoded header.
  cipher.setAAD(additionalData)
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()])
  const tag = cipher.getAuthTag()
  return `${protectedHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`
}

/**
 * Unseals a session cookie value with the key its `kid` header names.
 *
 * Returns a failure reason instead of throwing, for every input. Timestamps are not
 * checked here: the caller applies its idle and absolute expiry to the payload.
 *
 * @example
 * ```ts
 * const result = unsealSession(cookieValue, keyring)
 * if (result.ok) console.log(result.payload.data)
 * ```
 */
export function unsealSession(sealed: string, keyring: Keyring): UnsealResult {
  if (sealed.length > MAX_SEALED_LENGTH) return { ok: false, reason: 'oversized' }
  const parts = compactParts(sealed)
  if (parts === undefined) return { ok: false, reason: 'malformed' }
  const [header, ivText, ciphertextText, tagText] = parts

  const usedKey = keyForHeader(header, keyring)
  if (typeof usedKey === 'string') return { ok: false, reason: usedKey }

  const iv = Buffer.from(ivText, 'base64url')
  const tag = Buffer.from(tagText, 'base64url')
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return { ok: false, reason: 'malformed' }

  let plaintext: string
  try {
    const decipher = createDecipheriv('aes-256-gcm', usedKey.key, iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(usedKey.additionalData)
    decipher.setAuthTag(tag)
    plaintext = decipher.update(Buffer.from(ciphertextText, 'base64url'), undefined, 'utf8')
    plaintext += decipher.final('utf8')
  } catch {
    // final() throws when the tag does not verify: the cookie was changed or forged.
    return { ok: false, reason: 'decryption_failed' }
  }

  const payload = parsePayload(plaintext)
  if (payload === undefined) return { ok: false, reason: 'invalid_payload' }
  return { ok: true, payload, kid: usedKey.kid, rotated: usedKey !== keyring.current }
}

/**
 * Returns the key whose protected header the cookie carries, or the failure reason. This
 * layer writes exactly one header per key, so any other header, even one with the same
 * fields in another order or with extra fields such as `zip` or `crit`, is not ours.
 */
function keyForHeader(header: string, keyring: Keyring): SessionKey | UnsealFailure {
  for (const key of keyring.keys.values()) {
    if (key.protectedHeader === header) return key
  }

  let fields: unknown
  try {
    fields = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))
  } catch {
    return 'malformed'
  }
  const { alg, enc, kid } = (fields ?? {}) as Record<string, unknown>
  const isOurShape =
    typeof fields === 'object' && alg === 'dir' && enc === 'A256GCM' && typeof kid === 'string'
  if (isOurShape && !keyring.keys.has(kid)) return 'unknown_key'
  return 'malformed'
}

/**
 * Returns the protected header, IV, ciphertext and tag of a compact JWE with an empty
 * encrypted key (`dir`), or undefined unless it has exactly five parts and the four that
 * are not empty are canonical base64url.
 *
 * Canonical means that the last character carries no bits beyond the data. Base64 decoders
 * such as `atob` ignore those spare bits, so without this check a change to them would
 * still unseal, and one session would have several valid cookie strings.
 */
function compactParts(sealed: string): [string, string, string, string] | undefined {
  const parts = sealed.split('.')
  if (parts.length !== 5 || parts[1] !== '') return undefined
  const [header = '', , iv = '', ciphertext = '', tag = ''] = parts
  const canonical =
    isCanonicalBase64url(header) &&
    isCanonicalBase64url(iv) &&
    isCanonicalBase64url(ciphertext) &&
    isCanonicalBase64url(tag)
  return canonical ? [header, iv, ciphertext, tag] : undefined
}

function isCanonicalBase64url(part: string): boolean {
  if (part.length === 0 || !BASE64URL.test(part)) return false
  const remainder = part.length % 4
  if (remainder === 0) return true
  if (remainder === 1) return false

  // Two trailing characters carry one byte (4 spare bits), three carry two bytes (2 spare bits).
  const lastValue = BASE64URL_ALPHABET.indexOf(part.charAt(part.length - 1))
  const spareBitsMask = remainder === 2 ? 0b1111 : 0b11
  return (lastValue & spareBitsMask) === 0
}

function parsePayload(plaintext: string): SessionPayload | undefined {
  let value: unknown
  try {
    value = JSON.parse(plaintext)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined

  const { data, createdAt, lastSeenAt } = value as Record<string, unknown>
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined
  if (!Number.isSafeInteger(createdAt) || !Number.isSafeInteger(lastSeenAt)) return undefined
  return {
    data: data as Record<string, unknown>,
    createdAt: createdAt as number,
    lastSeenAt: lastSeenAt as number,
  }
}
