import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { InvalidSettingsError } from '../errors/index.ts'
import { closest, settingsError, type SettingsProblem } from './problems.ts'
import {
  appSchema,
  middlewareSchema,
  templatesSchema,
  validateSection,
  type AppInput,
  type MiddlewareInput,
  type TemplatesInput,
} from './schema.ts'
import {
  assertProductionSecrets,
  findSecretProblems,
  resolveDevelopmentSecrets,
} from './secrets.ts'
import {
  findUnknownFiles,
  readSettingsFile,
  walk,
  type SettingsFileName,
  type SettingsTree,
} from './settings-file.ts'
import type {
  AppSettings,
  Environment,
  MiddlewareSettings,
  Settings,
  TemplateSettings,
} from './types.ts'

export type * from './types.ts'
export { generateSecret, secretWeakness, MIN_SECRET_BYTES, SECRET_COMMAND } from './secrets.ts'
export { SETTINGS_FILES } from './settings-file.ts'
export { parseOrigin } from './schema.ts'

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[]
    ? T[K]
    : T[K] extends object | undefined
      ? DeepPartial<NonNullable<T[K]>>
      : T[K]
}

/** Contents of the settings files, by file: `app.yml` (with `env`), `middleware.yml`, `templates.yml`. */
export interface SettingsFiles {
  app: AppSettings & { env: Environment }
  middleware: MiddlewareSettings
  templates: TemplateSettings
}

/** Values that take precedence over the files, key by key, such as in tests. */
export type SettingsOverrides = DeepPartial<SettingsFiles>

export interface LoadSettingsOptions {
  /** Application root: the folder that contains `settings/`. */
  root: string
  /** Environment, above `NODE_ENV` and `app.yml` `env`. */
  env?: Environment
  /** Values merged over the files before validation; not interpolated. */
  overrides?: SettingsOverrides
  /** Variables for `${VAR}` placeholders and `NODE_ENV`. Default `process.env`. */
  environ?: Record<string, string | undefined>
  /** Receives the notice that development secrets were generated, and secret warnings. */
  logger?: Logger
  /**
   * Save generated development secrets in `<root>/.fastblocks/secrets.json`. Default true.
   * `fastblocks check` turns it off so that checking writes nothing.
   */
  persistSecrets?: boolean
}

type Section = 'app' | 'middleware' | 'templates'
const SECTION_NAMES: readonly Section[] = ['app', 'middleware', 'templates']
const FILE_NAMES = new Map<Section, SettingsFileName>([
  ['app', 'app.yml'],
  ['middleware', 'middleware.yml'],
  ['templates', 'templates.yml'],
])

/** Parsed trees of one source (the files, or the overrides), by section. */
type SectionTrees = Map<Section, SettingsTree>

const ENVIRONMENTS: readonly Environment[] = ['development', 'test', 'production']

/**
 * Loads, interpolates and validates `settings/app.yml`, `settings/middleware.yml` and
 * `settings/templates.yml` under `root`, then applies the defaults and resolves the secrets.
 *
 * Each file is optional. The environment is `options.env`, else `NODE_ENV`, else `env` in
 * `app.yml`, else `development`. In development and test, missing secrets are generated once
 * and kept in `<root>/.fastblocks/secrets.json`. In production that file is never read, and
 * a missing or weak secret stops the start.
 *
 * @throws InvalidSettingsError listing every problem found, each with its file, key and fix.
 * @throws WeakSecretError in production, naming the first weak secret in `setting`.
 * @example
 * const settings = await loadSettings({ root: process.cwd(), logger })
 * @example
 * // Tests: fixed values over the files, no dependence on the shell's variables.
 * const settings = await loadSettings({
 *   root,
 *   env: 'test',
 *   environ: {},
 *   overrides: { app: { trusted_proxies: ['127.0.0.1'] } },
 * })
 */
export async function loadSettings(options: LoadSettingsOptions): Promise<Settings> {
  const root = resolve(options.root)
  const environ = options.environ ?? process.env
  await assertFolder(root)
  const problems: SettingsProblem[] = []

  // Read every file before validating, so that all problems are reported in one go.
  problems.push(...(await findUnknownFiles(join(root, 'settings'))))
  const fileTrees: SectionTrees = new Map()
  for (const section of SECTION_NAMES) {
    const name = fileNameOf(section)
    fileTrees.set(section, await readSettingsFile(root, name, environ, problems))
  }
  const overrideTrees = readOverrides(options.overrides, problems)
  const sources = { fileTrees, overrideTrees, problems }

  const merged = {
    app: validateMerged('app', appSchema, sources) as AppInput,
    middleware: validateMerged('middleware', middlewareSchema, sources) as MiddlewareInput,
    templates: validateMerged('templates', templatesSchema, sources) as TemplatesInput,
  }
  const locate = (section: Section, key: string): SettingsProblem => {
    if (Object.hasOwn(overrideTrees.get(section) ?? {}, key)) {
      return { file: 'overrides', path: [section, key], message: '' }
    }
    return { file: `settings/${fileNameOf(section)}`, path: [key], message: '' }
  }

  const env = resolveEnvironment(options.env, environ, merged.app.env, problems)
  const settings = applyDefaults(root, env, merged)
  problems.push(...crossCheck(settings, merged, locate))
  if (problems.length > 0) throw settingsError(root, problems)

  await resolveSecrets(settings, options)
  return settings
}

/** True when the settings are for production. */
export function isProduction(settings: Pick<Settings, 'env'>): boolean {
  return settings.env === 'production'
}

async function assertFolder(root: string): Promise<void> {
  try {
    // The root is the application folder named by the caller.
    // eslint-disable-next-line security/detect-non-literal-fs-filename
    const info = await stat(root)
    if (info.isDirectory()) return
  } catch (error) {
    if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  throw new InvalidSettingsError(
    `Application root ${root} is not found or not a folder; pass the folder that contains settings/`,
  )
}

function readOverrides(
  overrides: SettingsOverrides | undefined,
  problems: SettingsProblem[],
): SectionTrees {
  const tree = (walk(overrides ?? {}, 'overrides', [], problems) ?? {}) as SettingsTree
  const result: SectionTrees = new Map()

  for (const [key, value] of Object.entries(tree)) {
    if (!(SECTION_NAMES as string[]).includes(key)) {
      const nearest = closest(key, SECTION_NAMES)
      const hint = nearest === undefined ? '' : `did you mean ${nearest}? `
      problems.push({
        file: 'overrides',
        path: [key],
        message: `is not a settings section; ${hint}use app, middleware or templates`,
      })
      continue
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ file: 'overrides', path: [key], message: 'must be an object of settings' })
      continue
    }
    result.set(key as Section, value)
  }
  return result
}

/**
 * Validates a section's file and overrides on their own, so each problem names where it came
 * from, then merges them key by key (nested mappings such as `csp` merge one level down).
 */
function validateMerged(
  section: Section,
  schema: z.ZodObject,
  sources: { fileTrees: SectionTrees; overrideTrees: SectionTrees; problems: SettingsProblem[] },
): Record<string, unknown> {
  const { fileTrees, overrideTrees, problems } = sources
  const fileName = fileNameOf(section)
  const file = `settings/${fileName}`
  const fromFile = validateSection(schema, fileTrees.get(section) ?? {}, file, fileName, problems)
  const fromOverrides = validateSection(
    schema,
    overrideTrees.get(section) ?? {},
    'overrides',
    fileName,
    problems,
    [section],
  )

  const merged = new Map(Object.entries(fromFile))
  for (const [key, value] of Object.entries(fromOverrides)) {
    const current = merged.get(key)
    merged.set(key, isMapping(current) && isMapping(value) ? { ...current, ...value } : value)
  }
  return Object.fromEntries(merged)
}

function fileNameOf(section: Section): SettingsFileName {
  return FILE_NAMES.get(section) ?? 'app.yml'
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function resolveEnvironment(
  requested: Environment | undefined,
  environ: Record<string, string | undefined>,
  fromFile: Environment | undefined,
  problems: SettingsProblem[],
): Environment {
  if (requested !== undefined) {
    if (ENVIRONMENTS.includes(requested)) return requested
    problems.push({
      file: 'options.env',
      message: `is "${String(requested)}"; use development, test or production`,
    })
    return 'development'
  }

  const nodeEnv = environ.NODE_ENV
  if (nodeEnv !== undefined && nodeEnv !== '') {
    if ((ENVIRONMENTS as readonly string[]).includes(nodeEnv)) return nodeEnv as Environment
    // An unknown NODE_ENV such as "staging" must not quietly run with development secrets.
    problems.push({
      file: 'NODE_ENV',
      message: `is "${nodeEnv}"; set it to development, test or production`,
    })
    return 'development'
  }
  return fromFile ?? 'development'
}

function applyDefaults(
  root: string,
  env: Environment,
  input: { app: AppInput; middleware: MiddlewareInput; templates: TemplatesInput },
): Settings {
  const { app, middleware, templates } = input
  const securityLevel = templates.security_level ?? 'STANDARD'

  return {
    root,
    env,
    app: {
      name: app.name ?? 'FastBlocks app',
      origin: app.origin,
      trusted_origins: app.trusted_origins ?? [],
      trusted_proxies: app.trusted_proxies ?? [],
      // Secrets are resolved after validation; empty means "not set" until then.
      csrf_secret: app.csrf_secret ?? '',
      session_secret: app.session_secret ?? '',
      session_previous_secrets: app.session_previous_secrets ?? [],
      session_cookie: app.session_cookie ?? 'session',
      session_max_age: app.session_max_age ?? 1_209_600,
      session_idle_timeout: app.session_idle_timeout ?? 7_200,
      htmx_version: app.htmx_version ?? 4,
      log_level: app.log_level ?? (env === 'test' ? 'warn' : 'info'),
    },
    middleware: {
      body_limit: middleware.body_limit ?? 1_048_576,
      request_timeout: middleware.request_timeout ?? 30_000,
      headers_timeout: middleware.headers_timeout ?? 10_000,
      max_header_size: middleware.max_header_size ?? 16_384,
      csp: middleware.csp ?? {},
      hsts_max_age: middleware.hsts_max_age ?? 31_536_000,
    },
    templates: {
      directory: templates.directory ?? 'templates',
      security_level: securityLevel,
      strict_undefined: securityLevel === 'STRICT' ? true : (templates.strict_undefined ?? false),
      autoescape: templates.autoescape ?? true,
      reload: templates.reload ?? env === 'development',
    },
  }
}

/** Checks that involve more than one key. */
function crossCheck(
  settings: Settings,
  input: { app: AppInput; templates: TemplatesInput },
  locate: (section: Section, key: string) => SettingsProblem,
): SettingsProblem[] {
  const problems: SettingsProblem[] = []
  const { app, templates } = settings

  if (app.session_idle_timeout > app.session_max_age) {
    const idle = `${app.session_idle_timeout} s`
    const lifetime = `${app.session_max_age} s`
    problems.push(
      input.app.session_idle_timeout === undefined
        ? {
            ...locate('app', 'session_max_age'),
            message:
              `(${lifetime}) is shorter than the default session_idle_timeout (${idle}); ` +
              'raise it or set a lower session_idle_timeout',
          }
        : {
            ...locate('app', 'session_idle_timeout'),
            message:
              `(${idle}) is longer than session_max_age (${lifetime}); ` +
              'lower it or raise session_max_age',
          },
    )
  }

  // STRICT promises both; an explicit opposite value is a contradiction, not a preference.
  if (templates.security_level === 'STRICT') {
    if (input.templates.strict_undefined === false) {
      problems.push({
        ...locate('templates', 'strict_undefined'),
        message: 'is false, but security_level STRICT requires it; remove the key or use STANDARD',
      })
    }
    if (input.templates.autoescape === false) {
      problems.push({
        ...locate('templates', 'autoescape'),
        message: 'is false, but security_level STRICT requires it; remove the key or use STANDARD',
      })
    }
  }
  return problems
}

async function resolveSecrets(settings: Settings, options: LoadSettingsOptions): Promise<void> {
  const { app } = settings
  const configured = {
    session_secret: app.session_secret === '' ? undefined : app.session_secret,
    csrf_secret: app.csrf_secret === '' ? undefined : app.csrf_secret,
    session_previous_secrets: app.session_previous_secrets,
  }

  // Production: strong configured secrets or no start; the development file is not read.
  if (isProduction(settings)) {
    assertProductionSecrets(configured)
    return
  }

  for (const [setting, reason] of findSecretProblems(configured)) {
    if (reason === 'is not set') continue
    options.logger?.warn({ setting, reason }, 'secret would be rejected in production')
  }
  const resolved = await resolveDevelopmentSecrets(settings.root, configured, {
    persist: options.persistSecrets !== false,
    logger: options.logger,
  })
  app.session_secret = resolved.session_secret
  app.csrf_secret = resolved.csrf_secret
}
