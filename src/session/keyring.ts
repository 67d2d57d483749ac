import { createHash, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto'
import { WeakSecretError } from '../errors/index.ts'

/** Minimum length of a session secret, in UTF-8 bytes. */
export const MIN_SECRET_BYTES = 32

// HKDF-SHA256 parameters. The info label binds the derived keys to this use, so the same
// secret used elsewhere yields an unrelated key. Changing either value invalidates every
// cookie sealed before the change.
const HKDF_INFO = 'fastblocks session v1'
const HKDF_SALT = new Uint8Array(0)
const KEY_BYTES = 32

// Bytes of SHA-256(key) that form the key id: 8 bytes (11 base64url characters) keep the
// chance of two keys in one ring sharing an id negligible.
const KEY_ID_BYTES = 8

/** One AES-256-GCM sealing key and the id that names it in the JWE `kid` header. */
export interface SessionKey {
  /** Base64url of the first bytes of SHA-256 of the derived key. Reveals nothing about the secret. */
  readonly kid: string
  /** 256-bit secret key for `aes-256-gcm`. */
  readonly key: KeyObject
  /** Base64url of the JWE protected header `{"alg":"dir","enc":"A256GCM","kid":…}`, built once. */
  readonly protectedHeader: string
  /** ASCII bytes of `protectedHeader`: the additional authenticated data of every seal. */
  readonly additionalData: Buffer
}

/** Session keys. New cookies are sealed with `current`, and every key of the ring can unseal. */
export interface Keyring {
  readonly current: SessionKey
  /** Every key of the ring, `current` included, by key id. */
  readonly keys: ReadonlyMap<string, SessionKey>
}

/**
 * Derives the session keyring from secrets, newest first.
 *
 * Each secret goes through HKDF-SHA256 (empty salt, info `fastblocks session v1`) to a
 * 256-bit AES-GCM key. The first secret seals new cookies. The others only unseal cookies
 * sealed before a rotation, which the session middleware then seals again with the first.
 * A secret listed twice counts once.
 *
 * Derivation runs once, so call this at start-up and not per request.
 *
 * @param secrets - At least one secret of at least 32 bytes each, newest first.
 * @returns A promise that rejects with WeakSecretError when the list is empty or a secret
 *   is shorter than 32 bytes.
 *
 * @example
 * ```ts
 * const { session_secret, session_previous_secrets } = settings.app
 * const keyring = await createKeyring([session_secret, ...session_previous_secrets])
 * ```
 */
export async function createKeyring(secrets: readonly string[]): Promise<Keyring> {
  return deriveKeyring(secrets)
}

/** Derives the keyring like `createKeyring()`, synchronously. Throws WeakSecretError. */
export function deriveKeyring(secrets: readonly string[]): Keyring {
  validateSecrets(secrets)

  const keys = new Map<string, SessionKey>()
  let current: SessionKey | undefined
  for (const secret of secrets) {
    const sessionKey = deriveSessionKey(secret)
    current ??= sessionKey
    if (!keys.has(sessionKey.kid)) keys.set(sessionKey.kid, sessionKey)
  }

  // The loop ran at least once because validateSecrets rejects an empty list.
  return { current: current as SessionKey, keys }
}

/**
 * Checks session secrets without deriving keys, so a factory can reject a bad
 * configuration synchronously.
 *
 * @throws WeakSecretError naming the setting (`session_secret` for the first secret,
 *   `session_previous_secrets[i]` for the others) when the list is empty or a secret is
 *   shorter than 32 bytes.
 */
export function validateSecrets(secrets: readonly string[]): void {
  if (secrets.length === 0) {
    throw new WeakSecretError(
      'session_secret',
      'No session secret configured: set session_secret to a random string of at least ' +
        `${MIN_SECRET_BYTES} bytes, for example the output of \`npx fastblocks secret\``,
    )
  }
  for (const [index, secret] of secrets.entries()) validateSecret(secret, index)
}

function validateSecret(secret: string, index: number): void {
  const setting = index === 0 ? 'session_secret' : `session_previous_secrets[${index - 1}]`
  const length = typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : 0
  if (length < MIN_SECRET_BYTES) {
    throw new WeakSecretError(
      setting,
      `${setting} is ${length} bytes long, under the minimum of ${MIN_SECRET_BYTES} bytes: ` +
        'generate one with `npx fastblocks secret`',
    )
  }
}

function deriveSessionKey(secret: string): SessionKey {
  const raw = Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, KEY_BYTES))
  const kid = createHash('sha256')
    .update(raw)
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString('base64url')

  // A KeyObject keeps the key bytes out of logged or inspected objects.
  const key = createSecretKey(raw)
  raw.fill(0)
  const protectedHeader = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString(
    'base64url',
  )
  return { kid, key, protectedHeader, additionalData: Buffer.from(protectedHeader, 'latin1') }
}
