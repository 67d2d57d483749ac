import { randomFillSync } from 'node:crypto'

/** Nonce size in bytes: 128 random bits. */
export const NONCE_BYTES = 16

// One call to the system random source fills the pool for this many nonces, which costs less
// than one crypto.randomBytes() call per request. Each nonce uses bytes no other
// nonce uses, and the pool is refilled only after every byte of it has been used.
const NONCES_PER_FILL = 256
const pool = Buffer.allocUnsafe(NONCE_BYTES * NONCES_PER_FILL)
let offset = pool.length

/** Returns a fresh CSP nonce: 128 bits from the system CSPRNG, base64-encoded (24 characters). */
export function createNonce(): string {
  if (offset === pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const nonce = pool.toString('base64', offset, offset + NONCE_BYTES)
  offset += NONCE_BYTES
  return nonce
}
