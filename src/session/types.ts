/** A flash message, shown once on the next rendered page and then dropped. */
export interface FlashMessage {
  /** Category such as `success`, `info`, `warning` or `error`. */
  type: string
  text: string
}

/**
 * The session of the current request, available as `c.var.session`.
 *
 * Values must be JSON-serialisable. Keys that start with `_` are reserved for the
 * framework (the CSRF seed, flash messages, timestamps).
 */
export interface Session {
  get<T = unknown>(key: string): T | undefined
  set(key: string, value: unknown): void
  delete(key: string): void
  has(key: string): boolean
  /** Removes every value, reserved ones included, so the next token is new too. */
  clear(): void
  /**
   * Starts a new session that keeps the user's values but gets a new creation time and
   * a new CSRF seed. Call it on login and on any change of privilege.
   */
  regenerate(): void
  /** Adds a flash message for the next rendered page. */
  flash(type: string, text: string): void
  /** Returns the pending flash messages and removes them from the session. */
  consumeFlash(): FlashMessage[]
  /** True when the request brought no valid session cookie. */
  readonly isNew: boolean
  /** True when a value changed, so the cookie must be sealed and sent again. */
  readonly isModified: boolean
}
