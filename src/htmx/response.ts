/**
 * Helpers that set htmx response headers. Each sets headers on the context and returns nothing,
 * so they combine with any response: `hxTrigger(c, 'saved'); return c.html(block)`.
 *
 * Targets of navigation (HX-Redirect, HX-Location, HX-Push-Url, HX-Replace-Url) must be on the
 * application's origin and are sent as paths; an unsafe one raises UnsafeRedirectError. Values
 * with control characters raise TypeError, and structured values are sent as ASCII-only JSON,
 * so no argument can end the header line.
 */
import type { Context } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import { UnsafeRedirectError } from '../errors/index.ts'
import { appOriginOf, safeRedirectTarget } from './redirect.ts'

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/
const NON_ASCII = /[^\u0000-\u007f]/gu
const NON_ASCII_JSON = /[\u007f-\uffff]/g
// Names that htmx 2 and 4 read the same way in the comma-separated form of HX-Trigger.
const PLAIN_EVENT_NAME = /^[A-Za-z0-9_:.-]+$/

/**
 * Sends `HX-Redirect`: htmx loads `url` as a full page navigation.
 *
 * @throws UnsafeRedirectError when `url` is not on the application's origin.
 * @example
 * ```ts
 * hxRedirect(c, '/account')
 * return c.body(null, 200)
 * ```
 */
export function hxRedirect(c: Context<FastBlocksEnv>, url: string): void {
  c.header('HX-Redirect', sameOriginPath(c, url))
}

/** Options of `HX-Location`, which htmx follows as an ajax request instead of a page load. */
export interface HxLocationOptions {
  /** Same-origin path to request. */
  path: string
  /** CSS selector of the element to swap into. */
  target?: string
  /** Swap style, such as `innerHTML` or `outerHTML`. */
  swap?: string
  /** CSS selector of the part of the response to swap in. */
  select?: string
  /** CSS selector of the element the request is sent for (htmx 2). */
  source?: string
  /** Name of the event that triggered the request (htmx 2). */
  event?: string
  /** Name of a callback that handles the response (htmx 2). */
  handler?: string
  /** Headers to send with the request. */
  headers?: Record<string, string>
  /** Values to send with the request. */
  values?: Record<string, unknown>
  /** Push a same-origin path, or `true`/`false`, into the history (htmx 4). */
  push?: string | boolean
  /** Replace the history entry with a same-origin path, or `true`/`false` (htmx 4). */
  replace?: string | boolean
}

/**
 * Sends `HX-Location`: htmx requests `path` with ajax and swaps it, like a boosted link.
 *
 * @throws UnsafeRedirectError when the path, or a push or replace URL, is not on the
 *   application's origin.
 * @example
 * ```ts
 * hxLocation(c, '/items')
 * hxLocation(c, { path: '/items', target: '#main', swap: 'innerHTML' })
 * ```
 */
export function hxLocation(c: Context<FastBlocksEnv>, location: string | HxLocationOptions): void {
  if (typeof location === 'string') {
    c.header('HX-Location', sameOriginPath(c, location))
    return
  }

  const value: Record<string, unknown> = { ...location, path: sameOriginPath(c, location.path) }
  if (location.push !== undefined) value.push = historyValue(c, location.push)
  if (location.replace !== undefined) value.replace = historyValue(c, location.replace)
  c.header('HX-Location', toAsciiJson(value))
}

/**
 * Sends `HX-Refresh: true`: htmx reloads the whole page.
 *
 * @example
 * ```ts
 * hxRefresh(c)
 * ```
 */
export function hxRefresh(c: Context<FastBlocksEnv>): void {
  c.header('HX-Refresh', 'true')
}

/**
 * Sends `HX-Push-Url`: htmx pushes `url` into the browser history, or pushes nothing for
 * `false`.
 *
 * @throws UnsafeRedirectError when `url` is not on the application's origin.
 * @example
 * ```ts
 * hxPushUrl(c, `/items?page=${page}`)
 * ```
 */
export function hxPushUrl(c: Context<FastBlocksEnv>, url: string | false): void {
  c.header('HX-Push-Url', url === false ? 'false' : sameOriginPath(c, url))
}

/**
 * Sends `HX-Replace-Url`: htmx replaces the current history entry with `url`, or changes
 * nothing for `false`.
 *
 * @throws UnsafeRedirectError when `url` is not on the application's origin.
 * @example
 * ```ts
 * hxReplaceUrl(c, '/items?sort=name')
 * ```
 */
export function hxReplaceUrl(c: Context<FastBlocksEnv>, url: string | false): void {
  c.header('HX-Replace-Url', url === false ? 'false' : sameOriginPath(c, url))
}

/**
 * Sends `HX-Retarget`: htmx swaps the response into the element matching `selector` instead.
 *
 * @throws TypeError when `selector` is empty or contains control characters.
 * @example
 * ```ts
 * hxRetarget(c, '#errors')
 * ```
 */
export function hxRetarget(c: Context<FastBlocksEnv>, selector: string): void {
  c.header('HX-Retarget', escapeNonAscii(assertHeaderSafe(selector, 'selector')))
}

/**
 * Sends `HX-Reswap`: htmx uses this swap style, such as `outerHTML` or `beforeend
 * scroll:bottom`.
 *
 * @throws TypeError when `swap` is empty or contains control characters.
 * @example
 * ```ts
 * hxReswap(c, 'outerHTML')
 * ```
 */
export function hxReswap(c: Context<FastBlocksEnv>, swap: string): void {
  c.header('HX-Reswap', escapeNonAscii(assertHeaderSafe(swap, 'swap style')))
}

/**
 * Sends `HX-Reselect`: htmx swaps in only the part of the response matching `selector`.
 *
 * @throws TypeError when `selector` is empty or contains control characters.
 * @example
 * ```ts
 * hxReselect(c, '#content')
 * ```
 */
export function hxReselect(c: Context<FastBlocksEnv>, selector: string): void {
  c.header('HX-Reselect', escapeNonAscii(assertHeaderSafe(selector, 'selector')))
}

/** When htmx triggers the events: on receipt, after the swap, or after the settle. */
export type HxTriggerTiming = 'receive' | 'swap' | 'settle'

export interface HxTriggerOptions {
  /**
   * When the events are triggered. Default `receive` (`HX-Trigger`). `swap` and `settle` send
   * `HX-Trigger-After-Swap` and `HX-Trigger-After-Settle`.
   */
  timing?: HxTriggerTiming
}

const TRIGGER_HEADERS: Record<HxTriggerTiming, string> = {
  receive: 'HX-Trigger',
  swap: 'HX-Trigger-After-Swap',
  settle: 'HX-Trigger-After-Settle',
}

// Events set so far on each response, per header, so that repeated calls are merged.
const pendingEvents = new WeakMap<Context<FastBlocksEnv>, Map<string, Map<string, unknown>>>()

/**
 * Asks htmx to trigger client-side events. `events` is an event name, a list of names, or an
 * object of names to JSON details. Repeated calls with the same timing are merged into one
 * header, a later detail for the same name replacing the earlier one.
 *
 * Names without details are sent comma-separated (`HX-Trigger: saved, closed`); otherwise the
 * header is a JSON object, escaped to ASCII.
 *
 * NOTE: htmx 4.0.1 reads only `HX-Trigger` and triggers its events after the swap, so the
 * `swap` and `settle` timings take effect with htmx 2 only.
 *
 * @throws TypeError when a name is empty or contains control characters, or a detail cannot be
 *   encoded as JSON.
 * @example
 * ```ts
 * hxTrigger(c, 'saved')
 * hxTrigger(c, ['saved', 'closeModal'])
 * hxTrigger(c, { showMessage: { level: 'info', text: 'Saved' } }, { timing: 'settle' })
 * ```
 */
export function hxTrigger(
  c: Context<FastBlocksEnv>,
  events: string | string[] | Record<string, unknown>,
  options: HxTriggerOptions = {},
): void {
  const header = TRIGGER_HEADERS[options.timing ?? 'receive']
  if (header === undefined) throw new TypeError(`Unknown trigger timing "${options.timing}"`)

  let byHeader = pendingEvents.get(c)
  if (byHeader === undefined) {
    byHeader = new Map()
    pendingEvents.set(c, byHeader)
  }
  const merged = new Map(byHeader.get(header))

  const entries: [string, unknown][] =
    typeof events === 'string'
      ? [[events, undefined]]
      : Array.isArray(events)
        ? events.map((name) => [name, undefined])
        : Object.entries(events)
  for (const [name, detail] of entries) {
    assertHeaderSafe(name, 'event name')
    merged.set(name, detail)
  }

  const value = serializeEvents(merged)
  byHeader.set(header, merged)
  c.header(header, value)
}

function serializeEvents(events: Map<string, unknown>): string {
  const plain = [...events].every(
    ([name, detail]) => detail === undefined && PLAIN_EVENT_NAME.test(name),
  )
  if (plain) return [...events.keys()].join(', ')

  const object: Record<string, unknown> = {}
  for (const [name, detail] of events) {
    Object.defineProperty(object, name, {
      value: detail === undefined ? {} : detail,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return toAsciiJson(object)
}

function sameOriginPath(c: Context<FastBlocksEnv>, url: string): string {
  const path = safeRedirectTarget(url, appOriginOf(c))
  if (path === null) throw new UnsafeRedirectError()
  return path
}

function historyValue(c: Context<FastBlocksEnv>, value: string | boolean): string {
  if (value === true || value === 'true') return 'true'
  if (value === false || value === 'false') return 'false'
  return sameOriginPath(c, value)
}

/** Returns `value` when it is a non-empty string without control characters. */
function assertHeaderSafe(value: string, label: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`The ${label} must be a non-empty string`)
  }
  if (CONTROL_CHARACTER.test(value)) {
    throw new TypeError(`The ${label} contains control characters: ${JSON.stringify(value)}`)
  }
  return value
}

/**
 * Replaces non-ASCII characters of a selector with 6-digit CSS escapes (`é` gives `\0000e9`),
 * so the header stays ASCII and the selector still matches. Six digits need no terminating
 * space, which htmx would read as the end of a swap modifier.
 */
function escapeNonAscii(selector: string): string {
  return selector.replace(
    NON_ASCII,
    (char) => `\\${(char.codePointAt(0) ?? 0).toString(16).padStart(6, '0')}`,
  )
}

/** Returns JSON with every character from U+007F up escaped, so it is a valid ASCII header. */
function toAsciiJson(value: unknown): string {
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('The value cannot be encoded as JSON')
  return json.replace(
    NON_ASCII_JSON,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}
