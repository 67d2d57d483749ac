import { CompactEncrypt, compactDecrypt, type CompactJWEHeaderParameters } from 'jose'
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

const decryptOptions = {
  keyManagementAlgorithms: ['dir'],
  contentEncryptionAlgorithms: ['A256GCM'],
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// base64url without padding, as JWE compact serialization requires.
const BASE64URL = /^[A-Za-z0-9_-]*$/
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Seals a session payload into a compact JWE (`alg: dir`, `enc: A256GCM`) with the
 * newest key of the keyring, whose id goes into the protected `kid` header.
 *
 * The result contains only base64url characters and dots, so it is a valid cookie value
 * without further encoding.
 *
 * @example
 * ```ts
 * const sealed = await sealSession({ data: { userId: 42 }, createdAt: now, lastSeenAt: now }, keyring)
 * ```
 */
export async function sealSession(payload: SessionPayload, keyring: Keyring): Promise<string> {
  const { kid, key } = keyring.current
  return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
    .encrypt(key)
}

/**
 * Unseals a session cookie value with the key its `kid` header names.
 *
 * Returns a failure reason instead of throwing, for every input. Timestamps are not
 * checked here: the caller applies its idle and absolute expiry to the payload.
 *
 * @example
 * ```ts
 * const result = await unsealSession(cookieValue, keyring)
 * if (result.ok) console.log(result.payload.data)
 * ```
 */
export async function unsealSession(sealed: string, keyring: Keyring): Promise<UnsealResult> {
  if (sealed.length > MAX_SEALED_LENGTH) return { ok: false, reason: 'oversized' }
  if (!hasCanonicalCompactShape(sealed)) return { ok: false, reason: 'malformed' }

  let usedKey: SessionKey | undefined
  let plaintext: Uint8Array
  try {
    const result = await compactDecrypt(
      sealed,
      (header: CompactJWEHeaderParameters) => {
        usedKey = typeof header.kid === 'string' ? keyring.keys.get(header.kid) : undefined
        if (usedKey === undefined) throw new UnknownKeyError()
        return usedKey.key
      },
      decryptOptions,
    )
    plaintext = result.plaintext
  } catch (error) {
    return { ok: false, reason: classifyDecryptError(error) }
  }

  const payload = parsePayload(plaintext)
  if (payload === undefined || usedKey === undefined)
    return { ok: false, reason: 'invalid_payload' }
  return { ok: true, payload, kid: usedKey.kid, rotated: usedKey !== keyring.current }
}

class UnknownKeyError extends Error {}

function classifyDecryptError(error: unknown): UnsealFailure {
  if (error instanceof UnknownKeyError) return 'unknown_key'
  if ((error as { code?: unknown } | null)?.code === 'ERR_JWE_DECRYPTION_FAILED') {
    return 'decryption_failed'
  }
  // Everything else jose rejects (bad header JSON, algorithm not allowed, wrong IV or tag
  // length) is a cookie this layer did not produce.
  return 'malformed'
}

/**
 * Checks the five compact JWE parts: a protected header, an empty encrypted key (`dir`),
 * then IV, ciphertext and tag, each canonical base64url.
 *
 * Canonical means that the last character carries no bits beyond the data. Base64 decoders
 * such as `atob` ignore those spare bits, so without this check a change to them would
 * still unseal, and one session would have several valid cookie strings.
 */
function hasCanonicalCompactShape(sealed: string): boolean {
  const parts = sealed.split('.')
  if (parts.length !== 5 || parts[1] !== '') return false
  for (const [index, part] of parts.entries()) {
    if (index !== 1 && !isCanonicalBase64url(part)) return false
  }
  return true
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

function parsePayload(plaintext: Uint8Array): SessionPayload | undefined {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(plaintext))
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
