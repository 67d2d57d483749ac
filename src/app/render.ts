import type { Context } from 'hono'
import nunjucks from 'nunjucks'
import type { FastBlocksEnv } from './env.ts'

/** Options of `c.render()`. */
export interface RenderOptions {
  /**
   * Name of a block of the template. An htmx request that expects a fragment (not boosted,
   * not a history restore) gets only this block; any other request gets the whole page.
   */
  block?: string
  /** Render only `block`, whatever the request. Default false. */
  blockOnly?: boolean
  /** Response status. Default 200. */
  status?: number
}

declare module 'hono' {
  interface ContextRenderer {
    (template: string, data?: Record<string, unknown>, options?: RenderOptions): Promise<Response>
  }
}

/** The part of the template layer the renderer needs. */
export interface PageRenderer {
  render(name: string, context: Record<string, unknown>): Promise<string>
  renderBlock(name: string, block: string, context: Record<string, unknown>): Promise<string>
}

/**
 * Text that templates print without escaping and that is built only when a template prints
 * it. Nunjucks copies the context object when a render starts, which would run property
 * getters on every render. This object is copied as it is and builds its text on first use,
 * so a page that prints no CSRF token creates no session.
 *
 * It is a class of its own, with SafeString's prototype behind it so that Nunjucks treats it
 * as safe: giving plain objects accessors one by one made Nunjucks' output code megamorphic
 * and slowed every render by about half in a local measurement.
 */
class LazySafeString {
  readonly #build: (() => string) | undefined
  #text: string | undefined

  constructor(build?: () => string) {
    this.#build = build
  }

  get val(): string {
    this.#text ??= this.build()
    return this.#text
  }

  get length(): number {
    return this.val.length
  }

  toString(): string {
    return this.val
  }

  valueOf(): string {
    return this.val
  }

  /** Returns the text. Called once, on first use. */
  protected build(): string {
    return this.#build?.() ?? ''
  }
}
Object.setPrototypeOf(LazySafeString.prototype, nunjucks.runtime.SafeString.prototype)

/** Returns text that templates print unescaped, built on first use. */
export function lazySafeString(build: () => string): nunjucks.runtime.SafeString {
  return new LazySafeString(build) as unknown as nunjucks.runtime.SafeString
}

/**
 * The request's CSRF token, issued on first use and shared by the template variables that
 * print it, so one render masks one token.
 */
class RenderToken {
  readonly #issue: () => string
  #token: string | undefined

  constructor(issue: () => string) {
    this.#issue = issue
  }

  /** The masked token, escaped for an attribute value. */
  get value(): string {
    this.#token ??= escapeAttribute(this.#issue())
    return this.#token
  }
}

type MarkupKind = 'csrf_token' | 'csrf_token_value' | 'fastblocks_head'

/**
 * The markup of the `csrf_token`, `csrf_token_value` and `fastblocks_head` variables, built
 * by kind in a method, so a render allocates no closures for them.
 */
class FrameworkMarkup extends LazySafeString {
  readonly #kind: MarkupKind
  readonly #token: RenderToken
  readonly #nonce: string
  readonly #assets: HeadAssets

  constructor(kind: MarkupKind, token: RenderToken, nonce: string, assets: HeadAssets) {
    super()
    this.#kind = kind
    this.#token = token
    this.#nonce = nonce
    this.#assets = assets
  }

  protected override build(): string {
    switch (this.#kind) {
      case 'csrf_token':
        return `<input type="hidden" name="csrf_token" value="${this.#token.value}">`
      case 'csrf_token_value':
        return this.#token.value
      case 'fastblocks_head':
        return (
          `<meta name="csrf-token" content="${this.#token.value}">\n` +
          `<meta name="htmx-config" content="${escapeAttribute(this.#assets.htmxConfig)}">\n` +
          `<script src="${escapeAttribute(this.#assets.htmx)}" nonce="${this.#nonce}"></script>\n` +
          `<script src="${escapeAttribute(this.#assets.fastblocks)}" nonce="${this.#nonce}"></script>`
        )
    }
  }
}

function escapeAttribute(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;')
}

export interface HeadAssets {
  /** URL of the htmx script, with a version query. */
  htmx: string
  /** URL of the framework's client script, with a version query. */
  fastblocks: string
  /** JSON of the `htmx-config` meta element for the configured htmx version. */
  htmxConfig: string
}

/**
 * Builds the template variables the framework provides on every render. User data comes
 * first so that it cannot replace them: a handler that passes `csrf_token` by mistake does
 * not turn off the protection.
 */
export function templateContext(
  c: Context<FastBlocksEnv>,
  data: Record<string, unknown> | undefined,
  assets: HeadAssets,
): Record<string, unknown> {
  const nonce = c.get('cspNonce')
  const token = new RenderToken(c.get('csrfToken'))
  const markup = (kind: MarkupKind) =>
    new FrameworkMarkup(kind, token, nonce, assets) as unknown as nunjucks.runtime.SafeString

  // Object.assign and property stores: on Node 20 an object literal that starts with a spread
  // took about 4 µs here, some fifty times longer, in a local measurement.
  const context: Record<string, unknown> = Object.assign({}, data)
  if (data != null && Object.hasOwn(data, '__proto__')) {
    // Assigning an own `__proto__` key (from parsed JSON) sets the prototype, here and in
    // Nunjucks' copy of the context, and missing variables would then resolve to the client's
    // values. The key is dropped: a template cannot print it anyway.
    Object.setPrototypeOf(context, Object.prototype)
  }
  context.csp_nonce = nonce
  context.csrf_token = markup('csrf_token')
  context.csrf_token_value = markup('csrf_token_value')
  context.fastblocks_head = markup('fastblocks_head')
  // A bound function, not an arrow function: on Node 20 storing a new closure into a field
  // of this object kept each request's context alive into the old generation (seen with
  // --trace-gc-nvp), which raised memory under load by tens of megabytes.
  context.flash_messages = consumeFlash.bind(undefined, c)
  context.request = { path: c.req.path, htmx: c.get('htmx') }
  return context
}

function consumeFlash(c: Context<FastBlocksEnv>): unknown {
  return c.get('session').consumeFlash()
}

/**
 * Creates the middleware of pipeline layer 9 that gives handlers `c.render(template, data,
 * options)`. It renders the whole template, or one block of it for an htmx request that
 * expects a fragment.
 */
export function renderer(templates: PageRenderer, assets: HeadAssets) {
  return async (c: Context<FastBlocksEnv>, next: () => Promise<void>) => {
    c.setRenderer(async (template, data, options) => {
      const context = templateContext(c, data, assets)
      const block = options?.block
      const wantsBlock = block !== undefined && (options?.blockOnly || c.get('htmx').wantsFragment)
      const html = wantsBlock
        ? await templates.renderBlock(template, block, context)
        : await templates.render(template, context)
      return c.html(html, (options?.status ?? 200) as 200)
    })
    await next()
  }
}
