import { z } from 'zod'
import { parseTrustedProxyEntry } from '../request-context/client-address.ts'
import { CSP_DIRECTIVES } from '../security-headers/csp.ts'
import { closest, type SettingsProblem } from './problems.ts'

/**
 * Schemas of the three settings files. Every key is optional here: defaults depend on the
 * environment and are applied after validation. Each check carries the message shown to
 * the user, written to follow "settings/<file>: key <path> …".
 */

/**
 * Upper bound of a cookie lifetime: draft-ietf-httpbis-rfc6265bis has user agents reduce a
 * larger Max-Age to 400 days (34560000 seconds), so a longer session could not last.
 */
const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 60 * 60

/** Converts a string of digits to a number, because `${VAR}` values are always strings. */
function toInteger(value: unknown): unknown {
  return typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value
}

function toBoolean(value: unknown): unknown {
  if (value === 'true') return true
  if (value === 'false') return false
  return value
}

/** Splits a comma-separated string into a list, because a `${VAR}` value is always a string. */
function toList(value: unknown): unknown {
  if (typeof value !== 'string') return value
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/** Maps an empty string, such as the value of `${SESSION_SECRET:-}`, to "not set". */
function emptyToUndefined(value: unknown): unknown {
  return value === '' ? undefined : value
}

function integer(min: number, max: number, unit: string, example: number) {
  const error = `must be a whole number of ${unit} from ${min} to ${max}, such as ${example}`
  return z.preprocess(
    toInteger,
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }),
  )
}

function boolean() {
  return z.preprocess(toBoolean, z.boolean({ error: 'must be true or false' }))
}

function list<T extends z.ZodType>(item: T, max: number, example: string) {
  return z.preprocess(
    toList,
    z
      .array(item, { error: `must be a list, such as [${example}]` })
      .max(max, { error: `must have at most ${max} entries` }),
  )
}

/**
 * Returns the canonical origin of `value`, or the problem when `value` is not an http(s)
 * origin with no credentials, path, query or fragment.
 */
export function parseOrigin(value: string): { origin: string } | { problem: string } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return { problem: 'must be an origin such as https://app.example' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { problem: 'must be an http or https origin, such as https://app.example' }
  }
  if (url.username !== '' || url.password !== '') {
    return { problem: 'must not contain a user name or password' }
  }

  // Scheme and authority only; a trailing slash is accepted, and URL drops default ports.
  const hasPath = !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]+\/?$/i.test(value)
  if (hasPath || url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return {
      problem: `must be an origin (scheme, host and optional port, no path), such as ${url.origin}`,
    }
  }
  return { origin: url.origin }
}

const origin = z
  .string({ error: 'must be an origin such as https://app.example' })
  .transform((value, context) => {
    const parsed = parseOrigin(value)
    if ('origin' in parsed) return parsed.origin
    context.addIssue({ code: 'custom', message: parsed.problem, input: value })
    return z.NEVER
  })

const trustedProxy = z
  .string({ error: 'must be an IP address or CIDR range, such as 10.0.0.0/8' })
  .transform((value, context) => {
    const parsed = parseTrustedProxyEntry(value)
    if (typeof parsed !== 'string') return value.trim()
    context.addIssue({ code: 'custom', message: parsed, input: value })
    return z.NEVER
  })

/** Secret values are never echoed back in messages; see `formatIssue`. */
const secret = z
  .string({ error: 'must be a string; quote the value if YAML reads it as a number' })
  .max(4096, { error: 'must be at most 4096 characters' })

/** RFC 6265 cookie-name token characters. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/

const cookieName = z
  .string({ error: 'must be a cookie name such as session' })
  .regex(COOKIE_NAME, { error: "must be 1 to 64 letters, digits or !#$%&'*+-.^_`|~" })
  .refine((value) => !/^__(host|secure)-/i.test(value), {
    error: 'must not carry a __Host- or __Secure- prefix; FastBlocks adds __Host- in production',
  })

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const appSchema = z.strictObject({
  env: z
    .enum(['development', 'test', 'production'], {
      error: 'must be development, test or production',
    })
    .optional(),
  name: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(200, { error: 'must be at most 200 characters' })
    .optional(),
  origin: z.preprocess(emptyToUndefined, origin.optional()),
  trusted_origins: list(origin, 100, 'https://admin.app.example').optional(),
  trusted_proxies: list(trustedProxy, 1000, '10.0.0.0/8').optional(),
  csrf_secret: z.preprocess(emptyToUndefined, secret.optional()),
  session_secret: z.preprocess(emptyToUndefined, secret.optional()),
  session_previous_secrets: list(
    secret.min(1, { error: 'must not be empty; remove the entry' }),
    20,
    '${OLD_SESSION_SECRET}',
  ).optional(),
  session_cookie: cookieName.optional(),
  session_max_age: integer(60, MAX_COOKIE_AGE_SECONDS, 'seconds', 1209600).optional(),
  session_idle_timeout: integer(60, MAX_COOKIE_AGE_SECONDS, 'seconds', 7200).optional(),
  htmx_version: z
    .preprocess(toInteger, z.union([z.literal(2), z.literal(4)], { error: 'must be 2 or 4' }))
    .optional(),
  log_level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
})

const cspDirective = z
  .string()
  .refine((name) => (CSP_DIRECTIVES as readonly string[]).includes(name), {
    error: (issue) => {
      const nearest = closest(String(issue.input), CSP_DIRECTIVES)
      const hint = nearest === undefined ? '' : `did you mean ${nearest}? `
      return `is not a CSP directive FastBlocks can extend; ${hint}use one of ${CSP_DIRECTIVES.join(', ')}`
    },
  })

/**
 * One CSP source expression. Whitespace, `;` and `,` would split the header into other
 * sources or directives, so they are rejected. A fixed `'nonce-…'` is rejected too: the
 * security headers layer adds a fresh nonce to every response, and a nonce that never
 * changes lets any injected script that carries it run.
 */
const cspSource = z
  .string({ error: "must be a source such as https://cdn.example or 'self'" })
  .min(1, { error: 'must not be empty' })
  .max(2048, { error: 'must be at most 2048 characters' })
  .refine((value) => !/[\s;,]/.test(value) && !/[\u0000-\u001f\u007f]/.test(value), {
    error: 'must not contain spaces, ";" or ","; list each source as its own entry',
  })
  .refine((value) => !/^'nonce-/i.test(value), {
    error: 'must not be a fixed nonce; the security headers layer adds a new nonce per response',
  })

export const middlewareSchema = z.strictObject({
  body_limit: integer(1, 1024 * 1024 * 1024, 'bytes', 1048576).optional(),
  request_timeout: integer(1, 3_600_000, 'milliseconds', 30000).optional(),
  headers_timeout: integer(1, 600_000, 'milliseconds', 10000).optional(),
  max_header_size: integer(1024, 1024 * 1024, 'bytes', 16384).optional(),
  csp: z
    .record(cspDirective, list(cspSource, 100, 'https://cdn.example'), {
      error: 'must be a mapping of CSP directives to lists of sources',
    })
    .optional(),
  hsts_max_age: integer(0, 63_072_000, 'seconds', 31536000).optional(),
})

export const templatesSchema = z.strictObject({
  directory: z
    .string({ error: 'must be a folder path relative to the root, such as templates' })
    .min(1, { error: 'must not be empty' })
    .max(1024, { error: 'must be at most 1024 characters' })
    .refine((value) => !value.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(value), {
      error: 'must be relative to the application root, such as templates',
    })
    .refine((value) => !value.includes('\0'), { error: 'must not contain a NUL character' })
    .optional(),
  security_level: z
    .enum(['STANDARD', 'STRICT'], {
      error: (issue) =>
        issue.input === 'SANDBOXED'
          ? 'is SANDBOXED, but the sandbox for templates written by end users is not part of ' +
            'this release; use STANDARD or STRICT'
          : 'must be STANDARD or STRICT',
    })
    .optional(),
  strict_undefined: boolean().optional(),
  autoescape: boolean().optional(),
  reload: boolean().optional(),
})

export type AppInput = z.output<typeof appSchema>
export type MiddlewareInput = z.output<typeof middlewareSchema>
export type TemplatesInput = z.output<typeof templatesSchema>

/** Keys of each settings file, for "did you mean" hints and for keys put in the wrong file. */
export const KEYS_BY_FILE = new Map<string, readonly string[]>([
  ['app.yml', Object.keys(appSchema.shape)],
  ['middleware.yml', Object.keys(middlewareSchema.shape)],
  ['templates.yml', Object.keys(templatesSchema.shape)],
])

/**
 * Validates one section and converts zod issues into problems. Returns the parsed values,
 * with every invalid key left out so that the remaining checks can still run.
 */
export function validateSection<T extends z.ZodObject>(
  schema: T,
  value: unknown,
  file: string,
  fileName: string,
  problems: SettingsProblem[],
  pathPrefix: string[] = [],
): Partial<z.output<T>> {
  const result = schema.safeParse(value, { reportInput: true })
  if (result.success) return result.data

  const invalid = new Set<string>()
  for (const issue of result.error.issues) {
    problems.push(...formatIssue(issue, file, fileName, pathPrefix))
    const topKey = issue.path[0]
    if (typeof topKey === 'string') invalid.add(topKey)
  }

  // Validate again without the invalid keys, so valid neighbours keep their parsed values.
  const valid = Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      ([key]) => !invalid.has(key) && Object.hasOwn(schema.shape, key),
    ),
  )
  const retry = schema.safeParse(valid)
  return retry.success ? retry.data : {}
}

function formatIssue(
  issue: z.core.$ZodIssue,
  file: string,
  fileName: string,
  pathPrefix: string[],
): SettingsProblem[] {
  const path = [...pathPrefix, ...issue.path.filter((part) => typeof part !== 'symbol')]

  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      file,
      path: [...path, key],
      message: unknownKeyMessage(key, fileName),
    }))
  }
  if (issue.code === 'invalid_key') {
    const message = issue.issues[0]?.message ?? 'is not a valid key'
    return [{ file, path, message }]
  }

  // Never echo a secret, even an invalid one, into a message that may reach logs.
  const isSecret = path.some((part) => typeof part === 'string' && part.endsWith('secret'))
  const isSecretList = path.some((part) => part === 'session_previous_secrets')
  const got =
    isSecret || isSecretList || !('input' in issue) ? '' : `, got ${describe(issue.input)}`
  return [{ file, path, message: `${issue.message}${got}` }]
}

function unknownKeyMessage(key: string, fileName: string): string {
  // A known key of another file: name the file it belongs in.
  for (const [otherFile, keys] of KEYS_BY_FILE) {
    if (otherFile !== fileName && keys.includes(key)) {
      return `is a setting of ${otherFile}, not of ${fileName}; move it there`
    }
  }
  const keys = KEYS_BY_FILE.get(fileName) ?? []
  const nearest = closest(key, keys)
  if (nearest !== undefined) return `is not a known setting; did you mean ${nearest}?`
  return `is not a known setting; the keys of ${fileName} are ${keys.join(', ')}`
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list'
  if (value !== null && typeof value === 'object') return 'a mapping'
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
