import type { Context, MiddlewareHandler } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import { mutableHeaders } from '../request-context/mutable-headers.ts'
import { nodeRequestOf } from '../request-context/node-request.ts'
import type { HtmxDetails } from './types.ts'

export interface HtmxOptions {
  /**
   * Request headers added to the `Vary` header of every response. Default: the headers that
   * `wantsFragment` is computed from, `HX-Request`, `HX-Boosted`, `HX-History-Restore-Request`
   * and `HX-Request-Type`.
   */
  vary?: string[]
}

const DEFAULT_VARY = ['HX-Request', 'HX-Boosted', 'HX-History-Restore-Request', 'HX-Request-Type']

/**
 * Sets `c.var.htmx` from the htmx request headers and adds the htmx request headers to `Vary` on
 * every response that passes through it.
 *
 * One URL returns a whole page or a block depending on those headers. A shared cache or the
 * browser cache keyed on the URL alone would then serve a block where a page is expected, after
 * a history restore for example, so `Vary` makes caches key on them.
 *
 * Both htmx 2 and htmx 4 headers are read: htmx 4 sends `HX-Source` and `HX-Target` as
 * `tag#id`, htmx 2 sends the bare ids in `HX-Trigger` and `HX-Target`.
 *
 * @example
 * ```ts
 * app.use(htmx())
 * app.get('/items', (c) =>
 *   c.var.htmx.wantsFragment ? render(c, 'items.html', 'list') : render(c, 'items.html'),
 * )
 * ```
 */
export function htmx(options: HtmxOptions = {}): MiddlewareHandler<FastBlocksEnv> {
  const vary = options.vary ?? DEFAULT_VARY
  const varyValue = [...new Map(vary.map((name) => [name.toLowerCase(), name])).values()].join(', ')

  return async function htmxDetails(c, next) {
    c.set('htmx', readHtmxDetails(nodeRequestHeaders(c) ?? c.req.raw.headers))
    await next()

    const headers = mutableHeaders(c)
    // Most responses have no Vary yet, and then get the list joined once at set-up.
    if (headers.has('Vary')) appendVary(headers, vary)
    else if (varyValue !== '') headers.set('Vary', varyValue)
  }
}

/** The `get` of Headers, which `readHtmxDetails` calls with lower-case names only. */
type HeaderSource = Pick<Headers, 'get'>

/**
 * Returns the request headers of the Node request under `@hono/node-server`, read from the
 * object Node parsed. The runtime Headers object that `c.req.raw.headers` gives checks the
 * name and value on every read, which cost more than the rest of this layer in profiles.
 * Node has already rejected invalid headers and joined repeated ones with a comma, as
 * `Headers.get` does for these names.
 */
function nodeRequestHeaders(c: Context): HeaderSource | undefined {
  const incoming = nodeRequestOf(c)
  if (incoming === undefined) return undefined
  const fields = incoming.headers as Record<string, string | string[] | undefined>
  return {
    get(name: string): string | null {
      // eslint-disable-next-line security/detect-object-injection -- fixed lower-case names
      const value = fields[name]
      return typeof value === 'string' ? value : null
    },
  }
}

/** Reads the htmx request headers of htmx 2 and htmx 4 into {@link HtmxDetails}. */
export function readHtmxDetails(headers: HeaderSource): HtmxDetails {
  const request = headers.get('hx-request') === 'true'
  const boosted = headers.get('hx-boosted') === 'true'
  const historyRestore = headers.get('hx-history-restore-request') === 'true'

  // Only htmx 4 sends HX-Source, and it sends element identifiers as `tag#id`.
  const source = headers.get('hx-source')
  const target = headers.get('hx-target') ?? undefined
  const version4 = source !== null

  return {
    request,
    boosted,
    historyRestore,
    target: version4 ? idOfIdentifier(target) : nonEmpty(target),
    trigger: version4 ? idOfIdentifier(source) : nonEmpty(headers.get('hx-trigger') ?? undefined),
    triggerName: nonEmpty(headers.get('hx-trigger-name') ?? undefined),
    currentUrl: nonEmpty(headers.get('hx-current-url') ?? undefined),
    // htmx 4 sends `HX-Request-Type: full` when it swaps the body or selects from the response.
    wantsFragment:
      request && !boosted && !historyRestore && headers.get('hx-request-type') !== 'full',
  }
}

/**
 * Adds header names to the `Vary` header, keeping the names already there, with no duplicates
 * (compared case-insensitively). `Vary: *` is left as it is.
 */
export function appendVary(headers: Headers, names: string[]): void {
  const existing = (headers.get('Vary') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  if (existing.includes('*')) return

  const present = new Set(existing.map((name) => name.toLowerCase()))
  const added = names.filter((name) => {
    const lower = name.toLowerCase()
    if (present.has(lower)) return false
    present.add(lower)
    return true
  })
  if (added.length === 0) return

  headers.set('Vary', [...existing, ...added].join(', '))
}

/** Returns the id of an htmx 4 element identifier (`button#save` gives `save`). */
function idOfIdentifier(identifier: string | undefined): string | undefined {
  const hash = identifier?.indexOf('#') ?? -1
  if (identifier === undefined || hash === -1) return undefined

  // htmx 4 writes the id with encodeURI.
  const encoded = identifier.slice(hash + 1)
  try {
    return nonEmpty(decodeURI(encoded))
  } catch {
    return nonEmpty(encoded)
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value
}
