import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
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
  readonly #key: KeyObject
  readonly #session: Session
  /** Last HMAC computed and its seed, reused within the request until the seed changes. */
  #cached: { seed: string; value: Buffer } | undefined

  constructor(key: KeyObject, session: Session) {
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
      seed = randomBytes(SEED_BYTES).toString('base64url')
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
    if (this.#cached?.seed !== seed) {
      const value = createHmac('sha256', this.#key).update(seed).digest()
      this.#cached = { seed, value }
    }
    return this.#cached.value
  }
}

/** Turns the CSRF secret into an HMAC key once, at set-up. */
export function createTokenKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'))
}

/** Masks a token value: random pad || (pad XOR value), base64url. */
export function maskToken(value: Buffer): string {
  const pad = randomBytes(TOKEN_BYTES)
  return Buffer.concat([pad, xor(pad, value)]).toString('base64url')
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
  return Buffer.from(left.map((byte, index) => byte ^ right.readUInt8(index)))
}
