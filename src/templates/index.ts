import { realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import nunjucks from 'nunjucks'
import type { SecurityLevel } from '../config/types.ts'
import { InvalidSettingsError } from '../errors/index.ts'
import { compileTemplate } from './compile.ts'
import { installFilters, PROTECTED_FILTERS } from './filters.ts'
import { TemplateLoader } from './loader.ts'
import { NunjucksRenderer, type TemplateRenderer } from './renderer.ts'

export type { TemplateRenderer } from './renderer.ts'
export { tojson, urlize } from './filters.ts'

/** A template filter: the value before `|` first, then the filter's arguments. */
export type TemplateFilter = (...args: never[]) => unknown

export interface TemplateOptions {
  /** Absolute path of the templates folder. Templates cannot load files outside it. */
  directory: string
  /** `STANDARD` or `STRICT`. Default `STANDARD`. `STRICT` forces `strictUndefined` and `autoescape`. */
  securityLevel?: SecurityLevel
  /**
   * Raise UndefinedVariableError when a template reads an undefined variable or attribute,
   * except in `is defined`, `is undefined` and `default`. Default false; true under `STRICT`.
   */
  strictUndefined?: boolean
  /** HTML-escape every printed value that is not a SafeString. Default true; `false` only under `STANDARD`. */
  autoescape?: boolean
  /** Recompile a template on the next render after its file changes (one stat per loaded template per render). Default false. */
  reload?: boolean
  /** Variables visible to every template, below the render context. */
  globals?: Record<string, unknown>
  /** Extra filters. The escaping filters (`safe`, `escape`, `tojson`, `urlize`, …) cannot be replaced. */
  filters?: Record<string, TemplateFilter>
}

/**
 * Creates the template renderer of pipeline layer 9: Nunjucks with `[[ ]]` for output,
 * `{% %}` for tags and `{# #}` for comments, autoescaping on, templates compiled once and
 * cached (or recompiled when changed, with `reload`), and a loader confined to `directory`.
 *
 * Options and defaults: `securityLevel` `STANDARD`, `strictUndefined` false (forced true by
 * `STRICT`), `autoescape` true (`false` raises InvalidSettingsError under `STRICT`), `reload`
 * false, no extra `globals` or `filters`. Raises InvalidSettingsError when `directory` is
 * not an absolute path of a folder.
 *
 * Besides the Nunjucks filters, templates get `tojson` (JSON for `<script>`), and `urlize`,
 * `replace` and `truncate` that keep SafeString input escaped.
 *
 * @example
 * ```ts
 * const templates = createTemplates({ directory: join(root, 'templates') })
 * const page = await templates.render('notes.html', { notes })
 * const fragment = await templates.renderBlock('notes.html', 'list', { notes })
 * ```
 * @example
 * ```ts
 * // Development: undefined variables raise, edited files are picked up.
 * createTemplates({ directory, securityLevel: 'STRICT', reload: true })
 * ```
 */
export function createTemplates(options: TemplateOptions): TemplateRenderer {
  const securityLevel = options.securityLevel ?? 'STANDARD'
  if (securityLevel !== 'STANDARD' && securityLevel !== 'STRICT') {
    throw new InvalidSettingsError(
      `templates.yml security_level must be STANDARD or STRICT, got ${JSON.stringify(securityLevel)}`,
    )
  }
  // Escaping cannot be turned off by accident: only an explicit false under STANDARD.
  if (options.autoescape === false && securityLevel === 'STRICT') {
    throw new InvalidSettingsError(
      'templates.yml autoescape: false is not allowed with security_level STRICT: ' +
        'remove autoescape or use security_level STANDARD',
    )
  }
  const autoescape = options.autoescape ?? true
  const strictUndefined = securityLevel === 'STRICT' || (options.strictUndefined ?? false)
  const reload = options.reload ?? false
  const root = templateRoot(options.directory)

  const loader: TemplateLoader = new TemplateLoader({
    root,
    reload,
    compile: (source, name) => compileTemplate(source, name, env, strictUndefined),
  })
  // @types/nunjucks types `getSource` as returning source text; Nunjucks also accepts the
  // precompiled `{ type: 'code' }` form that this loader returns.
  const env: nunjucks.Environment = new nunjucks.Environment(
    loader as unknown as nunjucks.ILoader,
    {
      autoescape,
      throwOnUndefined: false,
      // Keeps the error objects of helpers and loaders as `cause` instead of replacing them
      // with a plain Error that has only the message.
      dev: true,
      tags: { variableStart: '[[', variableEnd: ']]' },
    },
  )
  useNullPrototypeCache(loader)

  installFilters(env)
  for (const [name, filter] of Object.entries(options.filters ?? {})) {
    if (PROTECTED_FILTERS.has(name)) {
      throw new InvalidSettingsError(
        `Template filter "${name}" is built in and keeps output escaped, so it cannot be ` +
          'replaced: register the filter under another name',
      )
    }
    env.addFilter(name, filter as (...args: unknown[]) => unknown)
  }
  for (const [name, value] of Object.entries(options.globals ?? {})) {
    env.addGlobal(name, value)
  }

  return new NunjucksRenderer(env, loader, reload)
}

/**
 * Wraps HTML built by the application, such as the CSRF hidden input, so that templates
 * print it without escaping. Never pass text that contains unescaped user input.
 *
 * @example
 * ```ts
 * const csrf_token = markSafe(`<input type="hidden" name="csrf_token" value="${token}">`)
 * ```
 */
export function markSafe(html: string): nunjucks.runtime.SafeString {
  return new nunjucks.runtime.SafeString(html)
}

function templateRoot(directory: string): string {
  if (typeof directory !== 'string' || !path.isAbsolute(directory)) {
    throw new InvalidSettingsError(
      `Templates directory must be an absolute path, got ${JSON.stringify(directory)}`,
    )
  }
  let root: string
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- the configured folder
    root = realpathSync(directory)
  } catch (error) {
    throw new InvalidSettingsError(`Templates directory ${directory} does not exist`, {
      cause: error,
    })
  }
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- the configured folder
  if (!statSync(root).isDirectory()) {
    throw new InvalidSettingsError(`Templates directory ${directory} is not a folder`)
  }
  return root
}

/**
 * Replaces the cache object that the environment gives each loader (`loader.cache`, a plain
 * `{}` in Nunjucks 3.2.4) with one without a prototype, so that a template named
 * `constructor` or `__proto__` is not found in the cache as an inherited member.
 */
function useNullPrototypeCache(loader: TemplateLoader): void {
  ;(loader as unknown as { cache: Record<string, unknown> }).cache = Object.create(null)
}
