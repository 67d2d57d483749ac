import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import { webcrypto } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { FastBlocksError } from '../errors/index.ts'
import { createKeyring, validateSecrets } from './keyring.ts'
import { MAX_SEALED_LENGTH, sealSession, unsealSession, type SessionPayload } from './seal.ts'

const SECRET = 'test-session-secret-0123456789abcdef'
const OLD_SECRET = 'old-session-secret-0123456789abcdef'
const OTHER_SECRET = 'other-app-secret-0123456789abcdefgh'

const PAYLOAD: SessionPayload = {
  data: { user: 'alice', _csrf: 'csrf-seed-value' },
  createdAt: 1_800_000_000,
  lastSeenAt: 1_800_000_100,
}

const encoder = new TextEncoder()

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Replaces one character with the smallest change. A base64url character becomes the one
 * whose 6-bit value differs in the lowest bit, so a last character with spare bits changes
 * only those. Any other character becomes `A`.
 */
function replaceCharAt(text: string, index: number): string {
  const value = BASE64URL_ALPHABET.indexOf(text.charAt(index))
  const replacement = value === -1 ? 'A' : BASE64URL_ALPHABET.charAt(value ^ 1)
  return text.slice(0, index) + replacement + text.slice(index + 1)
}

function errorCodeOf(action: () => unknown): string | undefined {
  try {
    action()
  } catch (error) {
    return error instanceof FastBlocksError ? error.code : 'not a FastBlocksError'
  }
  return undefined
}

async function rejectionCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    return error instanceof FastBlocksError ? error.code : 'not a FastBlocksError'
  }
  return undefined
}

describe('createKeyring', () => {
  test('derives the same key id from the same secret', async () => {
    const first = await createKeyring([SECRET])
    const second = await createKeyring([SECRET])
    expect(first.current.kid).toBe(second.current.kid)
    expect(first.current.kid).toMatch(/^[A-Za-z0-9_-]{11}$/)
  })

  test('key id reveals nothing of the secret', async () => {
    const keyring = await createKeyring([SECRET])
    const secretBase64url = Buffer.from(SECRET).toString('base64url')
    expect(secretBase64url).not.toContain(keyring.current.kid)
    expect(SECRET).not.toContain(keyring.current.kid)
  })

  test('newest secret is the current key', async () => {
    const keyring = await createKeyring([SECRET, OLD_SECRET])
    const single = await createKeyring([SECRET])
    expect(keyring.current.kid).toBe(single.current.kid)
    expect(keyring.keys.size).toBe(2)
  })

  test('key is a 256-bit secret key object', async () => {
    const keyring = await createKeyring([SECRET])
    expect(keyring.current.key.type).toBe('secret')
    expect(keyring.current.key.symmetricKeySize).toBe(32)
    expect(JSON.stringify(keyring)).not.toContain(SECRET)
  })

  test('seal opens with a standard JOSE library', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const raw = new Uint8Array(keyring.current.key.export())
    const { plaintext } = await compactDecrypt(sealed, raw)
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual(PAYLOAD)
  })

  test('duplicate secret counts once', async () => {
    const keyring = await createKeyring([SECRET, SECRET])
    expect(keyring.keys.size).toBe(1)
  })

  test('rejects missing or short secrets', async () => {
    expect(errorCodeOf(() => validateSecrets([]))).toBe('E_WEAK_SECRET')
    expect(errorCodeOf(() => validateSecrets(['short']))).toBe('E_WEAK_SECRET')
    expect(errorCodeOf(() => validateSecrets([SECRET, 'x'.repeat(31)]))).toBe('E_WEAK_SECRET')
    expect(errorCodeOf(() => validateSecrets([SECRET, 'x'.repeat(32)]))).toBeUndefined()
    expect(await rejectionCodeOf(createKeyring(['short']))).toBe('E_WEAK_SECRET')
  })
})

describe('sealSession and unsealSession', () => {
  test('round trip returns the payload', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const result = await unsealSession(sealed, keyring)
    expect(result).toEqual({ ok: true, payload: PAYLOAD, kid: keyring.current.kid, rotated: false })
  })

  test('seal is a dir A256GCM compact JWE with the key id', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(decodeProtectedHeader(sealed)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: keyring.current.kid,
    })
  })

  test('seal reveals no plaintext, even decoded', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const decodedParts = sealed.split('.').map((part) => Buffer.from(part, 'base64url'))
    const views = [sealed, ...decodedParts.map((part) => part.toString('latin1'))]
    for (const view of views) {
      for (const plaintext of ['alice', 'user', '_csrf', 'csrf-seed-value', 'createdAt', SECRET]) {
        expect(view).not.toContain(plaintext)
      }
    }
  })

  test('same payload seals differently each time', async () => {
    const keyring = await createKeyring([SECRET])
    const first = await sealSession(PAYLOAD, keyring)
    const second = await sealSession(PAYLOAD, keyring)
    expect(first).not.toBe(second)
  })

  test('every changed character is rejected', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const accepted: number[] = []
    for (let index = 0; index < sealed.length; index++) {
      const result = await unsealSession(replaceCharAt(sealed, index), keyring)
      if (result.ok) accepted.push(index)
    }
    expect(accepted).toEqual([])
  })

  test('tampered part gives the matching reason', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const [header, , iv, ciphertext, tag] = sealed.split('.') as [
      string,
      '',
      string,
      string,
      string,
    ]

    const tamperedIv = [header, '', replaceCharAt(iv, 3), ciphertext, tag].join('.')
    const tamperedCiphertext = [header, '', iv, replaceCharAt(ciphertext, 5), tag].join('.')
    const tamperedTag = [header, '', iv, ciphertext, replaceCharAt(tag, 0)].join('.')
    for (const tampered of [tamperedIv, tamperedCiphertext, tamperedTag]) {
      expect(await unsealSession(tampered, keyring)).toEqual({
        ok: false,
        reason: 'decryption_failed',
      })
    }
  })

  test('header with another kid is an unknown key', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const header = Buffer.from(
      JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'AAAAAAAAAAA' }),
    ).toString('base64url')
    const tampered = [header, ...sealed.split('.').slice(1)].join('.')
    expect(await unsealSession(tampered, keyring)).toEqual({ ok: false, reason: 'unknown_key' })
  })

  test('older key unseals and is marked rotated', async () => {
    const oldKeyring = await createKeyring([OLD_SECRET])
    const keyring = await createKeyring([SECRET, OLD_SECRET])
    const sealed = await sealSession(PAYLOAD, oldKeyring)
    const result = await unsealSession(sealed, keyring)
    expect(result).toEqual({
      ok: true,
      payload: PAYLOAD,
      kid: oldKeyring.current.kid,
      rotated: true,
    })
  })

  test('key not in the ring is rejected', async () => {
    const foreign = await createKeyring([OTHER_SECRET])
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, foreign)
    expect(await unsealSession(sealed, keyring)).toEqual({ ok: false, reason: 'unknown_key' })
  })

  test('foreign key under our kid fails decryption', async () => {
    const keyring = await createKeyring([SECRET])
    const foreign = await createKeyring([OTHER_SECRET])
    const forged = await new CompactEncrypt(encoder.encode(JSON.stringify(PAYLOAD)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: keyring.current.kid })
      .encrypt(foreign.current.key)
    expect(await unsealSession(forged, keyring)).toEqual({
      ok: false,
      reason: 'decryption_failed',
    })
  })

  test('other algorithms are rejected', async () => {
    const keyring = await createKeyring([SECRET])
    const aesKey = await webcrypto.subtle.generateKey({ name: 'AES-KW', length: 256 }, true, [
      'wrapKey',
      'unwrapKey',
    ])
    const wrapped = await new CompactEncrypt(encoder.encode(JSON.stringify(PAYLOAD)))
      .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', kid: keyring.current.kid })
      .encrypt(aesKey)
    const unsecured =
      Buffer.from(JSON.stringify({ alg: 'none', kid: keyring.current.kid })).toString('base64url') +
      '..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'
    expect(await unsealSession(wrapped, keyring)).toEqual({ ok: false, reason: 'malformed' })
    expect(await unsealSession(unsecured, keyring)).toEqual({ ok: false, reason: 'malformed' })
  })

  test('malformed values are rejected without throwing', async () => {
    const keyring = await createKeyring([SECRET])
    const sealed = await sealSession(PAYLOAD, keyring)
    const parts = sealed.split('.')
    const malformed = [
      '',
      '%',
      'not.a.valid.seal',
      'a.b.c.d.e',
      '....',
      sealed + '.',
      sealed.replace('..', '.AAAA.'),
      parts.slice(0, 4).join('.'),
      sealed.replaceAll('.', '!'),
      sealed + '=',
      'é'.repeat(20),
    ]
    for (const value of malformed) {
      expect(await unsealSession(value, keyring)).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  test('value over the length limit is oversized', async () => {
    const keyring = await createKeyring([SECRET])
    const value = 'A'.repeat(MAX_SEALED_LENGTH + 1)
    expect(await unsealSession(value, keyring)).toEqual({ ok: false, reason: 'oversized' })
  })

  test('authentic non-session plaintext is an invalid payload', async () => {
    const keyring = await createKeyring([SECRET])
    const plaintexts = [
      'not json',
      'null',
      '[]',
      '{"data":[],"createdAt":1,"lastSeenAt":1}',
      '{"data":{},"createdAt":"1","lastSeenAt":1}',
      '{"data":{},"createdAt":1}',
      '{"data":{},"createdAt":1.5,"lastSeenAt":1}',
    ]
    for (const plaintext of plaintexts) {
      const sealed = await new CompactEncrypt(encoder.encode(plaintext))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: keyring.current.kid })
        .encrypt(keyring.current.key)
      expect(await unsealSession(sealed, keyring)).toEqual({
        ok: false,
        reason: 'invalid_payload',
      })
    }
  })
})
