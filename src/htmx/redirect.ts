import type { Context } from 'hono'
import type { Logger } from 'pino'
import type { FastBlocksEnv } from '../app/env.ts'
import { UnsafeRedirectError } from '../errors/index.ts'

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/
const MAX_LOGGED_TARGET_LENGTH = 200

/**
 * Returns the same-origin path (`/account?tab=2#top`) that a browser would reach by following
 * `target` from `appOrigin`, or null when it would leave the origin or cannot be read without
 * doubt.
 *
 * The target is resolved with WHATWG URL, as browsers resolve a `Location` header, and the
 * resolved origin is compared with `appOrigin`. Before that, these are rejected because browsers
 * and validators read them differently:
 * - leading or trailing whitespace,
 * - control characters anywhere, because URL parsing drops tabs and newlines
 *   (`/\t/evil.example` is `//evil.example`),
 * - backslashes anywhere, because browsers read `\` as `/` in http and https URLs,
 * - a leading `//`,
 * - any scheme other than `http:` and `https:` (`javascript:`, `data:`).
 *
 * An absolute `http:` or `https:` URL is accepted only when its origin is `appOrigin` and it has
 * no user name or password, and it is returned as a path like every other target. The returned
 * path never starts with `//`: `/.//evil.example` resolves to the path `//evil.example`, which
 * would be read as another host if sent back, so it is rejected too.
 *
 * @param target the requested target, such as a `next` query parameter
 * @param appOrigin the application's origin, such as `https://app.example`
 * @throws TypeError when `appOrigin` is not an `http:` or `https:` URL
 *
 * @example
 * ```ts
 * safeRedirectTarget('/account?tab=2', 'https://app.example') // '/account?tab=2'
 * safeRedirectTarget('https://app.example/a', 'https://app.example') // '/a'
 * safeRedirectTarget('//evil.example', 'https://app.example') // null
 * ```
 */
export function safeRedirectTarget(target: string, appOrigin: string): string | null {
  const origin = parseAppOrigin(appOrigin)

  if (typeof target !== 'string' || target === '') return null

  // Browsers strip leading and trailing spaces and controls: ` //evil.example` is `//evil.example`.
  if (target !== target.trim()) return null
  if (CONTROL_CHARACTER.test(target)) return null

  // `/\evil.example` and `https:\\evil.example` are read with `\` as `/` by browsers.
  if (target.includes('\\')) return null

  // A scheme-relative URL names another host.
  if (target.startsWith('//')) return null

  const scheme = SCHEME.exec(target)?.[1]?.toLowerCase()
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return null

  let resolved: URL
  try {
    resolved = new URL(target, `${origin}/`)
  } catch {
    return null
  }

  if (resolved.origin !== origin) return null

  // `https://user@app.example/` is on the origin but is a phishing pattern and never needed.
  if (resolved.username !== '' || resolved.password !== '') return null

  const path = resolved.pathname + resolved.search + resolved.hash

  // Dot segments can leave `//host` at the start of the path, which would be read as a host.
  if (path.startsWith('//')) return null

  return path
}

export interface RedirectOptions {
  /** Same-origin path used when the target is missing or unsafe. Default `/`. */
  fallback?: string
  /** Status of the redirect for requests not made by htmx. Default 303 (See Other). */
  status?: 301 | 302 | 303 | 307 | 308
}

/**
 * Redirects to `target` when it is on the application's origin (see
 * {@link safeRedirectTarget}), and to `fallback` otherwise. An unsafe target is logged as a
 * warning with the layer `redirect`; a missing one (undefined, null or empty) is not.
 *
 * Requests made by htmx get `200` with `HX-Redirect: <path>` instead of a 3xx, because the
 * browser's fetch would follow a 3xx itself and htmx would swap the whole next page into the
 * target element. `HX-Redirect` makes htmx load the page as a full navigation. A history restore
 * request still gets the 3xx, because htmx 2 ignores response headers on it.
 *
 * The origin is `c.var.appOrigin`, or the request URL's origin when that is not set.
 *
 * @throws UnsafeRedirectError when `fallback` itself is not a same-origin path.
 *
 * @example
 * ```ts
 * app.post('/login', async (c) => {
 *   // … check the credentials
 *   return redirect(c, c.req.query('next'))
 * })
 * ```
 * @example
 * ```ts
 * return redirect(c, form.next, { fallback: '/account', status: 302 })
 * ```
 */
export function redirect(
  c: Context<FastBlocksEnv>,
  target: string | null | undefined,
  options: RedirectOptions = {},
): Response {
  const origin = appOriginOf(c)
  const fallback = options.fallback ?? '/'

  let location = typeof target === 'string' ? safeRedirectTarget(target, origin) : null
  if (location === null) {
    // Only a target that was given and rejected is worth a log line.
    if (typeof target === 'string' && target !== '') logUnsafeTarget(c, target)

    location = safeRedirectTarget(fallback, origin)
    if (location === null) {
      throw new UnsafeRedirectError(`Fallback redirect target "${fallback}" is not on this origin`)
    }
  }

  const htmx = c.get('htmx') as FastBlocksEnv['Variables']['htmx'] | undefined
  const htmxRequest = htmx?.request ?? c.req.header('HX-Request') === 'true'
  const historyRestore =
    htmx?.historyRestore ?? c.req.header('HX-History-Restore-Request') === 'true'
  if (htmxRequest && !historyRestore) {
    c.header('HX-Redirect', location)
    return c.body(null, 200)
  }

  return c.redirect(location, options.status ?? 303)
}

/** Returns `c.var.appOrigin`, or the origin of the request URL when no layer has set it. */
export function appOriginOf(c: Context<FastBlocksEnv>): string {
  const configured = c.get('appOrigin') as string | undefined
  return configured ?? new URL(c.req.url).origin
}

function parseAppOrigin(appOrigin: string): string {
  const url = new URL(appOrigin)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`appOrigin must be an http: or https: origin, got "${appOrigin}"`)
  }
  return url.origin
}

function logUnsafeTarget(c: Context<FastBlocksEnv>, target: string): void {
  const logger = c.get('logger') as Logger | undefined
  logger?.warn(
    {
      layer: 'redirect',
      reason: 'unsafe_target',
      requestId: c.get('requestId'),
      // Query and fragment are left out because they may carry tokens.
      target: target.split(/[?#]/, 1)[0]?.slice(0, MAX_LOGGED_TARGET_LENGTH),
    },
    'Redirect target is not on this origin; using the fallback',
  )
}
