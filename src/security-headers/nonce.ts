import { pooledRandomString } from '../request-context/random-pool.ts'

/** Nonce size in bytes: 128 random bits. */
export const NONCE_BYTES = 16

/** Returns a fresh CSP nonce: 128 bits from the system CSPRNG, base64-encoded (24 characters). */
export function createNonce(): string {
  return pooledRandomString(NONCE_BYTES, 'base64')
}
