import { InvalidSettingsError } from '../errors/index.ts'

/**
 * Builds and validates the Content-Security-Policy. The policy is assembled once, when the
 * middleware is created, into the text around the nonce, so a request only joins the parts
 * with its own nonce.
 */

/** Extra sources per directive, such as `{ 'img-src': ['https://cdn.example'] }`. */
export type CspSources = Record<string, string[]>

/** An `unsafe-*` keyword found in a script or style directive. */
export interface UnsafeSource {
  directive: string
  source: string
}

export interface CompiledCsp {
  /** Policy text split around the nonce: `parts.join(nonce)` is the policy of a response. */
  parts: string[]
  /** Policy for responses that have no nonce: the same directives without `'nonce-…'`. */
  withoutNonce: string
  /** Unsafe sources that the options allowed explicitly, for a warning at start-up. */
  unsafeSources: UnsafeSource[]
}

/**
 * The default policy. Directives not listed (connect-src, font-src, media-src, frame-src,
 * worker-src, manifest-src) fall back to `default-src 'self'`, which allows htmx requests to
 * the app's own origin and nothing else.
 */
const DEFAULT_DIRECTIVES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['default-src', ["'self'"]],
  ['script-src', ["'self'"]],
  ['style-src', ["'self'"]],
  ['img-src', ["'self'", 'data:']],
  ['object-src', ["'none'"]],
  ['base-uri', ["'none'"]],
  ['form-action', ["'self'"]],
  ['frame-ancestors', ["'none'"]],
]

/** Directives whose value is a source list and that fall back to `default-src`. */
const FETCH_DIRECTIVES = new Set([
  'default-src',
  'script-src',
  'script-src-elem',
  'script-src-attr',
  'style-src',
  'style-src-elem',
  'style-src-attr',
  'img-src',
  'font-src',
  'connect-src',
  'media-src',
  'object-src',
  'frame-src',
  'child-src',
  'worker-src',
  'manifest-src',
])

/** Directives whose value is a source list but that do not fall back to `default-src`. */
const NAVIGATION_DIRECTIVES = new Set(['base-uri', 'form-action', 'frame-ancestors'])

/** CSP directives that `middleware.yml` may extend (CSP Level 3 and Trusted Types). */
export const CSP_DIRECTIVES = [
  ...FETCH_DIRECTIVES,
  ...NAVIGATION_DIRECTIVES,
  'report-uri',
  'report-to',
  'sandbox',
  'upgrade-insecure-requests',
  'require-trusted-types-for',
  'trusted-types',
] as const

/** Directives that get the per-response nonce, because they govern `<script>` and `<style>`. */
const NONCE_DIRECTIVES = new Set(['script-src', 'script-src-elem', 'style-src', 'style-src-elem'])

/** Directives that decide whether scripts run, where an `unsafe-*` keyword voids the nonce. */
const SCRIPT_DIRECTIVES = new Set([
  'default-src',
  'script-src',
  'script-src-elem',
  'script-src-attr',
])

const KEYWORD_SOURCE =
  /^'(?:self|none|strict-dynamic|report-sample|unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|inline-speculation-rules)'$/
const HASH_SOURCE = /^'sha(?:256|384|512)-[A-Za-z0-9+/_-]+={0,2}'$/
const NONCE_SOURCE = /^'nonce-/i
const SCHEME_SOURCE = /^[A-Za-z][A-Za-z0-9+.-]*:$/
const SCHEME_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//
const HOST_LABEL = /^[A-Za-z0-9-]+$/
const PORT = /^(?:[0-9]{1,5}|\*)$/
// Path characters of a URL, without ";" and ",", which separate directives and policies.
const PATH = /^\/[A-Za-z0-9\-._~%!$&'()*+=:@/]*$/

/** `report-uri` takes URLs: the URL characters, again without ";" and ",". */
const REPORT_URI = /^[A-Za-z0-9\-._~%!$&'()*+=:@/?#]+$/
const REPORT_TO = /^[A-Za-z0-9\-._~]+$/
const SANDBOX_TOKEN = /^allow-[a-z-]+$/
const TRUSTED_TYPES_VALUE = /^(?:[A-Za-z0-9\-#=_/@.%*]+|'allow-duplicates'|'none')$/

/** Returns true when the value is a host-source such as `https://*.cdn.example:443/js/`. */
function isHostSource(source: string): boolean {
  let rest = source
  const scheme = SCHEME_PREFIX.exec(rest)
  if (scheme !== null) rest = rest.slice(scheme[0].length)

  const slash = rest.indexOf('/')
  const path = slash === -1 ? '' : rest.slice(slash)
  const hostAndPort = slash === -1 ? rest : rest.slice(0, slash)
  if (path !== '' && !PATH.test(path)) return false

  const colon = hostAndPort.indexOf(':')
  const host = colon === -1 ? hostAndPort : hostAndPort.slice(0, colon)
  const port = colon === -1 ? undefined : hostAndPort.slice(colon + 1)
  if (port !== undefined && !PORT.test(port)) return false
  return isHost(host)
}

/** Returns true for `*`, a host name, or a host name whose first label is `*`. */
function isHost(host: string): boolean {
  if (host === '*') return true
  const labels = host.startsWith('*.') ? host.slice(2).split('.') : host.split('.')
  return labels.every((label) => HOST_LABEL.test(label))
}

function isSourceExpression(source: string): boolean {
  return (
    KEYWORD_SOURCE.test(source) ||
    HASH_SOURCE.test(source) ||
    SCHEME_SOURCE.test(source) ||
    isHostSource(source)
  )
}

function invalid(directive: string, source: string, reason: string): InvalidSettingsError {
  return new InvalidSettingsError(
    `Invalid CSP setting middleware.csp["${directive}"]: ${JSON.stringify(source)} ${reason}`,
  )
}

/** Throws InvalidSettingsError unless `value` is allowed in `directive`. */
function validateValue(directive: string, value: string): void {
  if (NONCE_SOURCE.test(value)) {
    // A nonce written in the settings is the same for every response, which voids it.
    throw invalid(
      directive,
      value,
      'is a fixed nonce: the middleware adds a fresh one per response',
    )
  }

  if (FETCH_DIRECTIVES.has(directive) || NAVIGATION_DIRECTIVES.has(directive)) {
    if (!isSourceExpression(value)) {
      throw invalid(
        directive,
        value,
        "is not a CSP source expression (a keyword such as 'self', a hash, a scheme such as " +
          '"data:", or a host such as "https://cdn.example")',
      )
    }
    return
  }

  const valid =
    (directive === 'report-uri' && REPORT_URI.test(value)) ||
    (directive === 'report-to' && REPORT_TO.test(value)) ||
    (directive === 'sandbox' && SANDBOX_TOKEN.test(value)) ||
    (directive === 'require-trusted-types-for' && value === "'script'") ||
    (directive === 'trusted-types' && TRUSTED_TYPES_VALUE.test(value))
  if (!valid) throw invalid(directive, value, `is not a valid value of ${directive}`)
}

function isKnownDirective(directive: string): boolean {
  return (CSP_DIRECTIVES as readonly string[]).includes(directive)
}

/** Directives that are sent without a value, or whose value may be empty. */
const VALUELESS_DIRECTIVES = new Set(['upgrade-insecure-requests', 'sandbox', 'trusted-types'])

/** Returns the `unsafe-*` keywords of a directive that governs scripts or styles. */
function findUnsafeSources(directive: string, sources: string[]): UnsafeSource[] {
  if (!SCRIPT_DIRECTIVES.has(directive) && !NONCE_DIRECTIVES.has(directive)) return []
  return sources
    .filter((source) => source.startsWith("'unsafe-"))
    .map((source) => ({ directive, source }))
}

/** Throws InvalidSettingsError unless the directive is known and each source is valid in it. */
function validateDirective(rawName: string, directive: string, sources: unknown): string[] {
  if (!isKnownDirective(directive)) {
    throw new InvalidSettingsError(
      `Invalid CSP setting middleware.csp: "${rawName}" is not a known CSP directive`,
    )
  }
  if (!Array.isArray(sources)) {
    throw new InvalidSettingsError(
      `Invalid CSP setting middleware.csp["${rawName}"]: expected a list of sources`,
    )
  }
  for (const source of sources) {
    if (typeof source !== 'string') throw invalid(directive, String(source), 'is not a string')
    validateValue(directive, source)
  }
  const needsValue =
    !VALUELESS_DIRECTIVES.has(directive) &&
    !FETCH_DIRECTIVES.has(directive) &&
    !NAVIGATION_DIRECTIVES.has(directive)
  if (needsValue && sources.length === 0) {
    throw new InvalidSettingsError(
      `Invalid CSP setting middleware.csp["${rawName}"]: ${directive} needs at least one value`,
    )
  }
  return sources as string[]
}

/**
 * Merges the extra sources into the defaults, so that a setting can only widen a default
 * directive. A fetch directive that is not in the defaults starts from `default-src`, as the
 * browser would fall back to it. Extra sources replace a default `'none'`, because `'none'`
 * cannot be combined with other sources. `'none'` alone is accepted only where it restricts:
 * on a directive that is not in the defaults, or one that is already `'none'`.
 */
function mergeDirectives(extra: CspSources): Map<string, string[]> {
  const merged = new Map<string, string[]>(
    DEFAULT_DIRECTIVES.map(([name, sources]) => [name, [...sources]]),
  )

  // default-src goes first because the other fetch directives start from its merged value.
  const entries = Object.entries(extra).sort(
    ([a], [b]) =>
      Number(b.toLowerCase() === 'default-src') - Number(a.toLowerCase() === 'default-src'),
  )
  for (const [rawName, rawSources] of entries) {
    const directive = rawName.toLowerCase()
    const sources = validateDirective(rawName, directive, rawSources)
    const configured = merged.get(directive)

    if (sources.includes("'none'")) {
      const restricts =
        sources.length === 1 &&
        (configured === undefined || (configured.length === 1 && configured[0] === "'none'"))
      if (!restricts) {
        throw invalid(
          directive,
          "'none'",
          'cannot be combined with other sources, and cannot narrow a default directive',
        )
      }
      merged.set(directive, ["'none'"])
      continue
    }

    const fallback = FETCH_DIRECTIVES.has(directive) ? (merged.get('default-src') ?? []) : []
    const base = configured ?? fallback
    const current = sources.length > 0 ? base.filter((source) => source !== "'none'") : [...base]
    for (const source of sources) if (!current.includes(source)) current.push(source)
    merged.set(directive, current)
  }
  return merged
}

const NONCE_PLACEHOLDER = '\u0000nonce\u0000'

function serialize(directives: Map<string, string[]>, withNonce: boolean): string {
  const rendered: string[] = []
  for (const [name, sources] of directives) {
    const values =
      withNonce && NONCE_DIRECTIVES.has(name)
        ? [...sources, `'nonce-${NONCE_PLACEHOLDER}'`]
        : sources
    rendered.push(values.length === 0 ? name : `${name} ${values.join(' ')}`)
  }
  return rendered.join('; ')
}

/**
 * Validates the extra sources, merges them into the default policy and splits the result
 * around the nonce. Throws InvalidSettingsError, naming the directive and the value, for an
 * unknown directive or a value with characters outside a source expression (such as `;`,
 * `,` or a line break). It also throws for a fixed nonce, and for an `unsafe-*` keyword in
 * a script or style directive unless `allowUnsafe` is set.
 */
export function compileCsp(extra: CspSources, allowUnsafe: boolean): CompiledCsp {
  const directives = mergeDirectives(extra)

  const unsafeSources: UnsafeSource[] = []
  for (const [name, sources] of directives) unsafeSources.push(...findUnsafeSources(name, sources))
  const firstUnsafe = unsafeSources[0]
  // An unsafe-* keyword lets injected markup run script or style, which is what the nonce stops.
  if (firstUnsafe !== undefined && !allowUnsafe) {
    throw invalid(
      firstUnsafe.directive,
      firstUnsafe.source,
      'weakens the policy: remove it, or set allowUnsafe to accept the risk',
    )
  }

  return {
    parts: serialize(directives, true).split(NONCE_PLACEHOLDER),
    withoutNonce: serialize(directives, false),
    unsafeSources,
  }
}
