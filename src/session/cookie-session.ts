import type { FlashMessage, Session } from './types.ts'
import type { SessionPayload } from './seal.ts'

/** Reserved key of the CSRF seed, set by the CSRF layer. `regenerate()` drops it. */
export const CSRF_SEED_KEY = '_csrf'

/** Reserved key of the pending flash messages. */
export const FLASH_KEY = '_flash'

/** Pending flash messages kept at most, the newest ones. */
export const MAX_FLASH_MESSAGES = 10

/**
 * A session whose values travel in a sealed cookie.
 *
 * Values sit in a Map, so keys such as `__proto__` are ordinary keys. Changes are tracked
 * through the methods only: after changing an object value in place, call `set()` with it
 * again, or the change is not sealed.
 */
export class CookieSession implements Session {
  readonly isNew: boolean
  #values: Map<string, unknown>
  #createdAt: number
  #modified = false
  readonly #requestTime: number

  /**
   * @param payload - The unsealed cookie, or undefined for a new session.
   * @param nowSeconds - Unix time of the request in seconds. A new, cleared or regenerated
   *   session starts at this time.
   */
  constructor(payload: SessionPayload | undefined, nowSeconds: number) {
    this.isNew = payload === undefined
    this.#values = new Map(payload === undefined ? [] : Object.entries(payload.data))
    this.#requestTime = nowSeconds
    this.#createdAt = payload?.createdAt ?? nowSeconds
  }

  get isModified(): boolean {
    return this.#modified
  }

  /** Number of values, reserved ones included. */
  get size(): number {
    return this.#values.size
  }

  /** Unix time in seconds at which this session started. */
  get createdAt(): number {
    return this.#createdAt
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined
  }

  set(key: string, value: unknown): void {
    this.#values.set(key, value)
    this.#modified = true
  }

  delete(key: string): void {
    if (this.#values.delete(key)) this.#modified = true
  }

  has(key: string): boolean {
    return this.#values.has(key)
  }

  clear(): void {
    if (this.#values.size > 0) this.#modified = true
    this.#values.clear()
    this.#restart()
  }

  regenerate(): void {
    this.#values.delete(CSRF_SEED_KEY)
    this.#restart()
    this.#modified = true
  }

  flash(type: string, text: string): void {
    // A client that never loads a page would otherwise grow the cookie past its size limit
    // with unread messages; the oldest are dropped first.
    const pending = this.#pendingFlash().slice(-(MAX_FLASH_MESSAGES - 1))
    this.set(FLASH_KEY, [...pending, { type, text }])
  }

  consumeFlash(): FlashMessage[] {
    const pending = this.#pendingFlash()
    this.delete(FLASH_KEY)
    return pending
  }

  /** Builds the payload to seal, with `lastSeenAt` set to the time of sealing. */
  toPayload(nowSeconds: number): SessionPayload {
    return {
      data: Object.fromEntries(this.#values),
      createdAt: this.#createdAt,
      lastSeenAt: nowSeconds,
    }
  }

  #restart(): void {
    this.#createdAt = this.#requestTime
  }

  #pendingFlash(): FlashMessage[] {
    const stored = this.#values.get(FLASH_KEY)
    return Array.isArray(stored) ? (stored as FlashMessage[]) : []
  }
}
