import { randomBytes, randomFillSync } from 'node:crypto'

/**
 * Random bytes for the per-request values of the pipeline: CSP nonces, session IVs and
 * CSRF pads. One call to the system CSPRNG fills the pool for many requests, which costs
 * less than one `crypto.randomBytes()` call per value. Each byte is handed out once, and
 * the pool is refilled only after every byte of it has been used.
 */

const POOL_BYTES = 8192
// Larger requests bypass the pool so that one of them cannot use up a fill.
const MAX_POOLED_BYTES = 256

const pool = Buffer.allocUnsafe(POOL_BYTES)
let offset = POOL_BYTES

/** Reserves `size` unused bytes of the pool and returns the offset of the first one. */
function reserve(size: number): number {
  if (offset + size > POOL_BYTES) {
    randomFillSync(pool)
    offset = 0
  }
  const start = offset
  offset += size
  return start
}

/** Returns `size` bytes from the system CSPRNG, in a new Buffer that the caller owns. */
export function pooledRandomBytes(size: number): Buffer {
  if (size > MAX_POOLED_BYTES) return randomBytes(size)
  const start = reserve(size)
  const bytes = Buffer.allocUnsafe(size)
  pool.copy(bytes, 0, start, start + size)
  return bytes
}

/** Returns `size` bytes from the system CSPRNG, encoded as `encoding`. */
export function pooledRandomString(size: number, encoding: 'base64' | 'base64url'): string {
  if (size > MAX_POOLED_BYTES) return randomBytes(size).toString(encoding)
  const start = reserve(size)
  return pool.toString(encoding, start, start + size)
}
