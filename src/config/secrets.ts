import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { InvalidSettingsError, WeakSecretError } from '../errors/index.ts'

/** Minimum secret length in bytes (UTF-8), enough for 256 bits from a random generator. */
export const MIN_SECRET_BYTES = 32

/** The command printed in every weak-secret message. */
export const SECRET_COMMAND = 'npx fastblocks secret'

/** Returns a new secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Values from documentation, tutorials and framework samples, compared after lowercasing and
 * removing everything but letters and digits. A secret equal to one of them, or to one
 * repeated, is a placeholder.
 */
const PLACEHOLDERS = new Set([
  'yoursecretkey',
  'yoursecret',
  'mysecret',
  'mysecretkey',
  'secret',
  'secretkey',
  'sessionsecret',
  'csrfsecret',
  'supersecret',
  'changeme',
  'changethis',
  'replaceme',
  'development',
  'dev',
  'test',
  'testing',
  'production',
  'password',
  'passw0rd',
  'default',
  'example',
  'placeholder',
  'keyboardcat',
  'qwerty',
  'letmein',
  'admin',
  'todo',
  'fixme',
])

/**
 * Words that mark a placeholder anywhere inside a longer value, such as
 * `your-secret-key-change-me-in-production`.
 */
const PLACEHOLDER_MARKERS = [
  'changeme',
  'changethis',
  'changeinproduction',
  'replaceme',
  'replacethis',
  'yoursecret',
  'placeholder',
  'notasecret',
  'notsecret',
  'insecure',
  'donotuse',
  'dontuse',
  'keyboardcat',
  'supersecret',
  'development',
]

/** Fewer distinct characters than this is not the output of a random generator. */
const MIN_DISTINCT_CHARACTERS = 8

/**
 * Returns why a secret is unfit for production, as a fragment that follows the setting name
 * ("is not set", "is 12 bytes long, …"), or undefined when no check finds a weakness.
 *
 * The checks catch values typed by hand and copied from samples. They cannot prove that a
 * value is random, so generate secrets instead of writing them.
 */
export function secretWeakness(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return 'is not set'

  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes < MIN_SECRET_BYTES) {
    return `is ${bytes} bytes long, shorter than the minimum of ${MIN_SECRET_BYTES} bytes`
  }

  const letters = value.toLowerCase().replace(/[^a-z0-9]/g, '')
  if (
    isRepeatOf(letters, PLACEHOLDERS) ||
    PLACEHOLDER_MARKERS.some((marker) => letters.includes(marker))
  ) {
    return 'is a known placeholder value'
  }

  const distinct = new Set(value.toLowerCase()).size
  if (distinct < MIN_DISTINCT_CHARACTERS) {
    return `has too little character variety (${distinct} distinct characters)`
  }
  if (shortestPeriod(value) <= value.length / 2) return 'repeats a short pattern'
  if (isMostlySequential(value)) return 'is mostly a run of consecutive characters'
  return undefined
}

/** True when `text` is one of `words`, or one of them written several times in a row. */
function isRepeatOf(text: string, words: ReadonlySet<string>): boolean {
  if (text === '') return false
  const period = shortestPeriod(text)
  return words.has(text) || (text.length % period === 0 && words.has(text.slice(0, period)))
}

/** Length of the shortest prefix that, repeated, produces `text` (possibly cut short). */
function shortestPeriod(text: string): number {
  for (let period = 1; period < text.length; period++) {
    let repeats = true
    for (let index = period; index < text.length; index++) {
      if (text.charCodeAt(index) !== text.charCodeAt(index - period)) {
        repeats = false
        break
      }
    }
    if (repeats) return period
  }
  return text.length
}

/** True when more than half of the neighbouring characters differ by exactly one code point. */
function isMostlySequential(text: string): boolean {
  let steps = 0
  for (let index = 1; index < text.length; index++) {
    if (Math.abs(text.charCodeAt(index) - text.charCodeAt(index - 1)) === 1) steps++
  }
  return steps > (text.length - 1) / 2
}

/** The secret settings of `app.yml`. */
export interface SecretSettings {
  session_secret: string | undefined
  csrf_secret: string | undefined
  session_previous_secrets: string[]
}

/** Lists each secret setting with its name, in the order they are checked. */
function namedSecrets(secrets: SecretSettings): [string, string | undefined][] {
  return [
    ['session_secret', secrets.session_secret],
    ['csrf_secret', secrets.csrf_secret],
    ...secrets.session_previous_secrets.map((value, index): [string, string] => [
      `session_previous_secrets[${index}]`,
      value,
    ]),
  ]
}

/**
 * Lists the production problems of the secrets: each weak value and each value equal to
 * another secret, as `[setting, reason]` pairs.
 */
export function findSecretProblems(secrets: SecretSettings): [string, string][] {
  const problems: [string, string][] = []
  const named = namedSecrets(secrets)
  for (const [setting, value] of named) {
    const weakness = secretWeakness(value)
    if (weakness !== undefined) problems.push([setting, weakness])
  }

  // Each secret has one job, so a reused value would let a leak of one break the other.
  for (const [index, [setting, value]] of named.entries()) {
    if (value === undefined || value === '') continue
    const earlier = named.slice(0, index).find(([, other]) => other === value)
    if (earlier !== undefined) {
      problems.push([setting, `is the same value as ${earlier[0]}; each secret must be different`])
    }
  }
  return problems
}

/**
 * Checks the secrets for production.
 *
 * @throws WeakSecretError for the first setting that is missing, shorter than 32 bytes, a
 *   known placeholder, of low character variety, or equal to another secret.
 */
export function assertProductionSecrets(secrets: SecretSettings): void {
  const [problem] = findSecretProblems(secrets)
  if (problem === undefined) return
  const [setting, reason] = problem
  const variable = setting.toUpperCase()
  const fix = setting.startsWith('session_previous_secrets')
    ? `Remove it from session_previous_secrets, or replace it with a value from \`${SECRET_COMMAND}\`.`
    : `Generate a strong secret with \`${SECRET_COMMAND}\` and set it through an environment ` +
      `variable, for example ${setting}: \${${variable}:-} in settings/app.yml (the empty ` +
      'default lets development generate its own).'
  throw new WeakSecretError(setting, `Cannot start in production: ${setting} ${reason}. ${fix}`)
}

/** Folder of the development secrets, relative to the application root. */
export const DEVELOPMENT_SECRETS_FOLDER = '.fastblocks'
const SECRETS_FILE = 'secrets.json'

export interface DevelopmentSecretsOptions {
  /** Write generated secrets to `.fastblocks/secrets.json`. Default true. */
  persist?: boolean
  logger?: Logger
}

/**
 * Fills in `session_secret` and `csrf_secret` for development and test when they are not set:
 * from `<root>/.fastblocks/secrets.json` when it exists, otherwise with new random values that
 * are saved there (mode 0600, in a folder that ignores itself in git) so that sessions survive
 * a restart. Never used in production.
 */
export async function resolveDevelopmentSecrets(
  root: string,
  configured: { session_secret: string | undefined; csrf_secret: string | undefined },
  options: DevelopmentSecretsOptions = {},
): Promise<{ session_secret: string; csrf_secret: string }> {
  const { session_secret: session, csrf_secret: csrf } = configured
  if (session !== undefined && csrf !== undefined)
    return { session_secret: session, csrf_secret: csrf }

  const missing = [
    session === undefined && 'session_secret',
    csrf === undefined && 'csrf_secret',
  ].filter((name) => name !== false)
  const folder = join(root, DEVELOPMENT_SECRETS_FOLDER)
  const file = join(folder, SECRETS_FILE)
  let stored = await readSecretsFile(file, options.logger)

  if (stored === undefined) {
    const generated = { session_secret: generateSecret(), csrf_secret: generateSecret() }
    if (options.persist === false) {
      stored = generated
    } else {
      stored = await writeSecretsFile(folder, file, generated)
      options.logger?.info(
        { file, settings: missing },
        'generated development secrets; production needs its own, from `npx fastblocks secret`',
      )
    }
  }

  return {
    session_secret: session ?? stored.session_secret,
    csrf_secret: csrf ?? stored.csrf_secret,
  }
}

type StoredSecrets = { session_secret: string; csrf_secret: string }

const GENERATED_SECRET = /^[A-Za-z0-9_-]{43,}$/

async function readSecretsFile(file: string, logger?: Logger): Promise<StoredSecrets | undefined> {
  let text: string
  try {
    // The path is <root>/.fastblocks/secrets.json, built from the application root.
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT')
      return undefined
    throw error
  }

  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  if (!isStoredSecrets(parsed)) {
    throw new InvalidSettingsError(
      `${file} is not a valid development secrets file; delete it and a new one is generated ` +
        'on the next start (existing sessions end)',
    )
  }

  // Another tool or a copy may have widened the mode; only the owner should read secrets.
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  const { mode } = await stat(file)
  if ((mode & 0o077) !== 0) {
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    await chmod(file, 0o600)
    logger?.warn(
      { file, mode: (mode & 0o777).toString(8) },
      'development secrets file was readable by others; set its mode to 0600',
    )
  }
  return { session_secret: parsed.session_secret, csrf_secret: parsed.csrf_secret }
}

function isStoredSecrets(value: unknown): value is StoredSecrets {
  if (value === null || typeof value !== 'object') return false
  const { session_secret: session, csrf_secret: csrf } = value as Record<string, unknown>
  return (
    typeof session === 'string' &&
    typeof csrf === 'string' &&
    GENERATED_SECRET.test(session) &&
    GENERATED_SECRET.test(csrf)
  )
}

/**
 * Creates the secrets file so that it appears complete or not at all: the content goes to a
 * temporary file first, which is then hard-linked to the final name. The link fails when the
 * file exists, so when several processes start at once the first one wins and the others
 * read its values.
 */
async function writeSecretsFile(
  folder: string,
  file: string,
  secrets: StoredSecrets,
): Promise<StoredSecrets> {
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  await mkdir(folder, { recursive: true, mode: 0o700 })
  await ignoreInGit(folder)

  const temporary = join(folder, `${SECRETS_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`)
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  await writeFile(temporary, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    await link(temporary, file)
    return secrets
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'EEXIST') {
      const winner = await readSecretsFile(file)
      if (winner !== undefined) return winner
    }
    throw error
  } finally {
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    await unlink(temporary)
  }
}

/** Writes `.fastblocks/.gitignore` with `*`, so the folder stays out of git without help. */
async function ignoreInGit(folder: string): Promise<void> {
  const file = join(folder, '.gitignore')
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    const current = await readFile(file, 'utf8')
    if (current.split(/\r?\n/).includes('*')) return
  } catch (error) {
    if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  // eslint-disable-next-line security/detect-non-literal-fs-filename
  await writeFile(file, '*\n')
}
