import type nunjucks from 'nunjucks'
import { FastBlocksError, TemplateError, TemplateNotFoundError } from '../errors/index.ts'
import { setupRootOf } from './compile.ts'
import { checkTemplateName, type TemplateLoader } from './loader.ts'
import {
  templateFromCode,
  type CompiledCode,
  type CompiledTemplate,
  type RenderFunction,
} from './nunjucks-internals.ts'

/** Renders templates of one folder, whole or one block at a time. */
export interface TemplateRenderer {
  /** Renders the whole template `name` (a path relative to the templates folder). */
  render(name: string, context?: Record<string, unknown>): Promise<string>
  /**
   * Renders one block of the template `name`, with the variables, imports and macros that
   * the top level of the template and of the layouts it extends define. Raises
   * TemplateError when neither the template nor a layout defines the block.
   */
  renderBlock(name: string, block: string, context?: Record<string, unknown>): Promise<string>
  /** Returns whether `name` is a valid name of a template file in the folder. */
  exists(name: string): Promise<boolean>
}

/** Block render templates kept per template; more block names than this are not cached. */
const MAX_CACHED_BLOCKS = 64

/** Maximum number of template names remembered as valid. Other names are checked on every render. */
const MAX_CACHED_NAMES = 256

/** The Nunjucks 3.2.4 message for a name that no loader finds. It has no error class. */
const NOT_FOUND_MESSAGE = /template not found: (.+)$/m

export class NunjucksRenderer implements TemplateRenderer {
  readonly #env: nunjucks.Environment
  readonly #loader: TemplateLoader
  readonly #reload: boolean
  readonly #blockTemplates = new WeakMap<CompiledTemplate, Map<string, CompiledTemplate>>()
  /** Names that passed checkTemplateName, whose result depends on the name alone. */
  readonly #validNames = new Set<string>()

  constructor(env: nunjucks.Environment, loader: TemplateLoader, reload: boolean) {
    this.#env = env
    this.#loader = loader
    this.#reload = reload
  }

  async render(name: string, context: Record<string, unknown> = {}): Promise<string> {
    try {
      return this.#template(name).render(context)
    } catch (error) {
      throw toFastBlocksError(error, name)
    }
  }

  async renderBlock(
    name: string,
    block: string,
    context: Record<string, unknown> = {},
  ): Promise<string> {
    try {
      return this.#blockTemplate(this.#template(name), name, block).render(context)
    } catch (error) {
      throw toFastBlocksError(error, name)
    }
  }

  async exists(name: string): Promise<boolean> {
    return this.#loader.exists(name)
  }

  #template(name: string): CompiledTemplate {
    // Checked before the environment's cache, whose lookup by name happens first. The check
    // runs several regular expressions, so names that passed it are remembered.
    if (!this.#validNames.has(name)) {
      checkTemplateName(name)
      // Names can come from requests, so the set stops growing at its maximum.
      if (this.#validNames.size < MAX_CACHED_NAMES) this.#validNames.add(name)
    }
    if (this.#reload) this.#loader.checkForChanges()
    return this.#env.getTemplate(name, true) as CompiledTemplate
  }

  /** Returns the template that renders `block` of `template`, compiled once per block name. */
  #blockTemplate(template: CompiledTemplate, name: string, block: string): CompiledTemplate {
    let byBlock = this.#blockTemplates.get(template)
    if (byBlock === undefined) {
      byBlock = new Map()
      this.#blockTemplates.set(template, byBlock)
    }
    let blockTemplate = byBlock.get(block)
    if (blockTemplate === undefined) {
      blockTemplate = templateFromCode(blockRenderCode(template, name, block), this.#env, name)
      // Block names can come from requests; the cache must not grow with them.
      if (byBlock.size < MAX_CACHED_BLOCKS) byBlock.set(block, blockTemplate)
    }
    return blockTemplate
  }
}

/**
 * Builds compiled code whose root renders one block of `template`.
 *
 * Nunjucks renders a page by running the template's root function, which runs its
 * top-level statements and then the root of the layout it extends. The layout calls each
 * block through `context.getBlock(name)`, which returns the most derived definition, and
 * `super()` walks to the next one.
 *
 * Here the root first runs the setup function of the template: the same top-level
 * statements, chained through every layout, with no output. The context then holds the
 * blocks of the whole chain in the same order, and the top-level variables, imports and
 * macros. The root then calls the block with that context and frame.
 *
 * NOTE: A block nested in another block, or in a loop or `{% if %}` of the layout, sees the
 * top-level variables but not variables set by the enclosing block or loop.
 */
function blockRenderCode(template: CompiledTemplate, name: string, block: string): CompiledCode {
  const setup = setupRootOf(template)
  const root: RenderFunction = (env, context, frame, runtime, callback) => {
    setup(env, context, frame, runtime, (error) => {
      if (error) {
        callback(error)
        return
      }

      let renderBlock: RenderFunction
      try {
        renderBlock = context.getBlock(block)
      } catch (missing) {
        callback(
          new TemplateError(
            `Block "${block}" not found in template ${name} or the layouts it extends`,
            { cause: missing },
          ),
        )
        return
      }
      renderBlock(env, context, frame, runtime, callback)
    })
  }

  const code: CompiledCode = { root }
  for (const [blockName, render] of Object.entries(template.blocks)) {
    code[`b_${blockName}`] = render
  }
  return code
}

/**
 * Returns the framework error behind a render failure. Nunjucks wraps an error thrown by a
 * helper or a loader in its own TemplateError, keeping the original as `cause`, once per
 * include or layout level.
 */
function toFastBlocksError(error: unknown, name: string): FastBlocksError {
  let current: unknown = error
  for (let depth = 0; depth < 32 && current instanceof Error; depth += 1) {
    if (current instanceof FastBlocksError) return current
    current = current.cause
  }

  const message = error instanceof Error ? error.message : String(error)
  const notFound = NOT_FOUND_MESSAGE.exec(message)
  if (notFound?.[1] !== undefined) return new TemplateNotFoundError(notFound[1], { cause: error })
  return new TemplateError(`Rendering template ${name} failed: ${message}`, { cause: error })
}
