import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { pooledRandomBytes, pooledRandomString } from '../request-context/random-pool.ts'
import type { Session } from '../session/types.ts'

/** Session key of the per-session random seed. Keys starting with `_` are reserved. */
export const SEED_KEY = '_csrf'

const SEED_BYTES = 32
const TOKEN_BYTES = 32

/** Length of a masked token: pad (32 bytes) || masked value (32 bytes) in unpadded base64url. */
export const MASKED_TOKEN_LENGTH = 86

const MASKED_TOKEN_PATTERN = /^[A-Za-z0-9_-]{86}$/

/** Reason a submitted token was rejected, as written to the log. */
export type TokenFailure = 'no seed in session' | 'malformed token' | 'token mismatch'

/**
 * Session-bound CSRF tokens for one request.
 *
 * The session stores a random seed under `_csrf`. The token value is
 * HMAC-SHA256(secret, seed), so it never sits in the session or the cookie itself and a
 * new seed (on `regenerate()` or `clear()`) invalidates every token handed out before.
 * Each token handed out is masked with a fresh one-time pad, so the token differs on
 * every response and a compression side channel (BREACH) cannot recover it.
 */
export class CsrfTokens {
  readonly #key: TokenKey
  readonly #session: Session

  constructor(key: TokenKey, session: Session) {
    this.#key = key
    this.#session = session
  }

  /** True when the session already contains a seed, so tokens were handed out before. */
  hasSeed(): boolean {
    return typeof this.#session.get(SEED_KEY) === 'string'
  }

  /**
   * Returns a fresh masked token. Creates the seed on first use, which marks the session
   * modified so the session layer sends the cookie again.
   */
  issue(): string {
    let seed = this.#readSeed()
    if (seed === undefined) {
      seed = pooledRandomString(SEED_BYTES, 'base64url')
      this.#session.set(SEED_KEY, seed)
    }
    return maskToken(this.#valueFor(seed))
  }

  /** Checks a submitted masked token against the session's seed. Returns the failure, if any. */
  verify(submitted: string): TokenFailure | undefined {
    const seed = this.#readSeed()
    if (seed === undefined) return 'no seed in session'

    const value = unmaskToken(submitted)
    if (value === undefined) return 'malformed token'

    if (!timingSafeEqual(value, this.#valueFor(seed))) return 'token mismatch'
    return undefined
  }

  #readSeed(): string | undefined {
    const seed = this.#session.get(SEED_KEY)
    return typeof seed === 'string' && seed.length > 0 ? seed : undefined
  }

  #valueFor(seed: string): Buffer {
    return this.#key.valueFor(seed)
  }
}

// Token values kept per key, so that a visitor's next requests skip the HMAC. At about
// 150 bytes an entry (an estimate), a full cache is about 150 KB. It is emptied when full.
const MAX_CACHED_VALUES = 1000

/**
 * The CSRF secret as an HMAC key, with the token values it computed for recent seeds.
 * A value is derived from the secret and a seed alone, so a cached one equals a new one.
 */
export class TokenKey {
  readonly #key: KeyObject
  readonly #values = new Map<string, Buffer>()

  constructor(secret: string) {
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'))
  }

  /** Returns HMAC-SHA256(secret, seed). The caller must not change the returned buffer. */
  valueFor(seed: string): Buffer {
    let value = this.#values.get(seed)
    if (value === undefined) {
      value = createHmac('sha256', this.#key).update(seed).digest()
      if (this.#values.size >= MAX_CACHED_VALUES) this.#values.clear()
      this.#values.set(seed, value)
    }
    return value
  }
}

/** Turns the CSRF secret into an HMAC key once, at set-up. */
export function createTokenKey(secret: string): TokenKey {
  return new TokenKey(secret)
}

/** Masks a token value: random pad || (pad XOR value), base64url. */
export function maskToken(value: Buffer): string {
  const masked = pooledRandomBytes(2 * TOKEN_BYTES)
  for (let index = 0; index < TOKEN_BYTES; index += 1) {
    // eslint-disable-next-line security/detect-object-injection -- index within both buffers
    masked[TOKEN_BYTES + index] = masked[index]! ^ value[index]!
  }
  return masked.toString('base64url')
}

/**
 * Unmasks a token handed out by `maskToken`. Returns undefined unless the input is exactly
 * 86 base64url characters, because Node's base64url decoder skips invalid characters
 * silently and would otherwise accept altered input.
 */
export function unmaskToken(token: string): Buffer | undefined {
  if (!MASKED_TOKEN_PATTERN.test(token)) return undefined

  const bytes = Buffer.from(token, 'base64url')
  if (bytes.length !== 2 * TOKEN_BYTES) return undefined

  return xor(bytes.subarray(0, TOKEN_BYTES), bytes.subarray(TOKEN_BYTES))
}

/** XORs two buffers of the same length into a new buffer. */
function xor(left: Buffer, right: Buffer): Buffer {
  const result = Buffer.allocUnsafe(left.length)
  for (let index = 0; index < left.length; index += 1) {
    // eslint-disable-next-line security/detect-object-injection -- index within both buffers
    result[index] = left[index]! ^ right[index]!
  }
  return result
}
