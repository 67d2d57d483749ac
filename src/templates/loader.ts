/* eslint-disable security/detect-non-literal-fs-filename -- every path is the templates folder
   joined with a name that checkTemplateName accepted, and files are read only at the real
   path after the containment check. */
import { readFileSync, realpathSync, statSync, type Stats } from 'node:fs'
import path from 'node:path'
import nunjucks from 'nunjucks'
import { TemplateNotFoundError } from '../errors/index.ts'
import type { CodeSource, CompiledCode } from './nunjucks-internals.ts'

/** Maximum length of a template name, in characters. */
const MAX_NAME_LENGTH = 1024

export interface TemplateLoaderOptions {
  /** Real path (symbolic links resolved) of the templates folder. */
  root: string
  /** Track the files of loaded templates so that `checkForChanges` can drop changed ones. */
  reload: boolean
  /** Compiles the source of the template `name`. */
  compile: (source: string, name: string) => CompiledCode
}

interface TemplateFile {
  /** Real path of the file, inside the root. */
  realPath: string
  stats: Stats
}

/**
 * Returns why `name` is not a canonical template name, or undefined when it is one.
 *
 * Names are paths relative to the templates folder with `/` separators. Everything that
 * could step out of the folder or that has two spellings is rejected rather than normalized.
 */
export function invalidNameReason(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'the name is not a non-empty string'
  if (name.length > MAX_NAME_LENGTH) return `the name is longer than ${MAX_NAME_LENGTH} characters`
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains a NUL or control character'
  if (name.includes('\\')) return 'the name contains a backslash'
  // The loader never percent-decodes, so `%2e%2e%2f` would be a literal file name. Rejecting
  // `%` keeps a name that was decoded twice upstream from reaching a different file.
  if (name.includes('%')) return 'the name contains a percent-encoded form'
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return 'the name is an absolute path'
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      return 'the name has an empty, "." or ".." segment'
    }
  }
  return undefined
}

/** Raises TemplateNotFoundError when `name` is not a canonical template name. */
export function checkTemplateName(name: unknown): asserts name is string {
  const reason = invalidNameReason(name)
  if (reason !== undefined) {
    // The name is quoted so that control characters cannot forge lines in a log.
    throw new TemplateNotFoundError(JSON.stringify(String(name)), { cause: new Error(reason) })
  }
}

/**
 * Loads and compiles templates from one folder, and never from outside it.
 *
 * Nunjucks' FileSystemLoader (3.2.4) only checks that the resolved path starts with the
 * folder's path, so `../templates-evil/x.html` from `templates/` passes, and it follows
 * symbolic links anywhere. This loader rejects non-canonical names, resolves symbolic links
 * with realpath and checks containment with `path.relative`.
 */
export class TemplateLoader extends nunjucks.Loader {
  readonly #root: string
  readonly #reload: boolean
  readonly #compile: (source: string, name: string) => CompiledCode
  /** Loaded templates and the stat signature of their file, kept only when reloading. */
  readonly #loaded = new Map<string, { file: string; signature: string }>()

  constructor(options: TemplateLoaderOptions) {
    super()
    this.#root = options.root
    this.#reload = options.reload
    this.#compile = options.compile
  }

  /** Resolves `./x` and `../x` against the including template's name, not a file path. */
  override resolve(from: string, to: string): string {
    return path.posix.join(path.posix.dirname(from), to)
  }

  /**
   * Returns the compiled template `name`, or null when no such file exists (so that
   * `{% include ... ignore missing %}` works). Raises TemplateNotFoundError for an invalid
   * name or a file outside the folder, and TemplateError when the source does not compile.
   */
  getSource(name: string): CodeSource | null {
    const file = this.#findFile(name)
    if (file === undefined) return null

    const source = readFileSync(file.realPath, 'utf8')
    const code = this.#compile(source, name)
    if (this.#reload) {
      this.#loaded.set(name, { file: this.#joinedPath(name), signature: signatureOf(file.stats) })
    }
    // `path` is the template name: Nunjucks shows it in error messages, and the absolute
    // path of the application has no place there.
    return { src: { type: 'code', obj: code }, path: name, noCache: false }
  }

  /** Returns whether `name` is a valid name of a template file inside the folder. */
  exists(name: string): boolean {
    if (invalidNameReason(name) !== undefined) return false
    try {
      return this.#findFile(name) !== undefined
    } catch (error) {
      if (error instanceof TemplateNotFoundError) return false
      throw error
    }
  }

  /**
   * Emits `update` for every loaded template whose file changed, was replaced or was removed
   * since it was compiled. The environment then drops the template from its cache, so the
   * next render loads it again. Costs one `stat` per loaded template.
   */
  checkForChanges(): void {
    for (const [name, entry] of this.#loaded) {
      if (currentSignature(entry.file) !== entry.signature) {
        this.#loaded.delete(name)
        this.emit('update', name, entry.file)
      }
    }
  }

  #joinedPath(name: string): string {
    return path.join(this.#root, name)
  }

  #findFile(name: string): TemplateFile | undefined {
    checkTemplateName(name)

    let realPath: string
    try {
      realPath = realpathSync(this.#joinedPath(name))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      throw error
    }

    // A symbolic link inside the folder may point anywhere: check where it ends.
    const relative = path.relative(this.#root, realPath)
    const outside =
      relative === '' ||
      relative === '..' ||
      relative.startsWith(`..${path.sep}`) ||
      path.isAbsolute(relative)
    if (outside) {
      throw new TemplateNotFoundError(name, {
        cause: new Error('the file resolves to a path outside the templates folder'),
      })
    }

    const stats = statSync(realPath)
    if (!stats.isFile()) return undefined
    return { realPath, stats }
  }
}

function signatureOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`
}

function currentSignature(file: string): string {
  try {
    return signatureOf(statSync(file))
  } catch {
    return 'missing'
  }
}
