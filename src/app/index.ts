import { serve, type ServerType } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { Logger } from 'pino'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastBlocksEnv } from './env.ts'
import { renderer, type HeadAssets } from './render.ts'
import { methodNotAllowedOrNotFound } from './routes.ts'
import { NotFoundError, TemplateNotFoundError } from '../errors/index.ts'
import { loadSettings, type LoadSettingsOptions } from '../config/index.ts'
import type { Settings } from '../config/types.ts'
import { requestContext, createErrorHandler, createLogger } from '../request-context/index.ts'
import {
  BoundedMemo,
  clientAddress,
  forwardedOrigin,
  parseTrustedProxies,
} from '../request-context/client-address.ts'
import { bodyLimit, nodeServerLimits, requestTimeout } from '../limits/index.ts'
import { peerAddressOf, requestHeader } from '../request-context/node-request.ts'
import { SecurityHeaderPolicy, securityHeaders } from '../security-headers/index.ts'
import { session } from '../session/index.ts'
import { csrfProtection } from '../csrf/index.ts'
import { htmx } from '../htmx/index.ts'
import { createTemplates, type TemplateRenderer } from '../templates/index.ts'
import { frameworkAssets, serveStatic } from '../static/index.ts'
import { rateLimit, type RateLimitOptions } from '../rate-limit/index.ts'

export type { FastBlocksEnv, FastBlocksVariables } from './env.ts'
export type { RenderOptions } from './render.ts'
export { PIPELINE, type PipelineLayer } from './pipeline.ts'

export interface CreateAppOptions extends Omit<LoadSettingsOptions, 'logger' | 'root'> {
  /**
   * Application root: the folder with `settings/`, `templates/` and `public/`. Default the
   * current working directory.
   */
  root?: string
  /** Destination of log lines. Default standard output. */
  logDestination?: import('pino').DestinationStream
}

export interface ListenOptions {
  /** Port. Default `PORT` from the environment, else 8000. Use 0 for any free port. */
  port?: number
  /** Address to listen on. Default `HOST` from the environment, else 127.0.0.1. */
  host?: string
}

export interface RunningServer {
  /** Base URL such as `http://127.0.0.1:8000`. */
  url: string
  server: ServerType
  /** Stops accepting connections and resolves when open ones have closed. */
  close(): Promise<void>
}

// Entries of each per-app cache of client addresses and origins.
const MEMO_ENTRIES = 1000

/** A Hono application with the FastBlocks pipeline in front of its routes. */
export class FastBlocks extends Hono<FastBlocksEnv> {
  readonly settings: Settings
  readonly logger: Logger
  readonly templates: TemplateRenderer
  readonly #csrf: ReturnType<typeof csrfProtection>
  readonly #rateLimits = new Map<string, MiddlewareHandler<FastBlocksEnv>>()

  constructor(settings: Settings, logger: Logger) {
    super({ strict: true })
    this.settings = settings
    this.logger = logger
    const production = settings.env === 'production'
    const showDetails = settings.env === 'development'

    const templateFolder = join(settings.root, settings.templates.directory)
    // An application without templates (an API, a health endpoint) still starts; rendering
    // then fails with an error that names the missing folder.
    this.templates = existsSync(templateFolder)
      ? createTemplates({
          directory: templateFolder,
          securityLevel: settings.templates.security_level,
          strictUndefined: settings.templates.strict_undefined,
          autoescape: settings.templates.autoescape,
          reload: settings.templates.reload,
        })
      : missingTemplates(templateFolder)
    const assets = frameworkAssets({ htmxVersion: settings.app.htmx_version })
    const headAssets: HeadAssets = { ...assets.assetUrls(), htmxConfig: assets.htmxConfig }

    const errorOptions = {
      showDetails,
      renderPage: async (c: Context<FastBlocksEnv>, error: { status: number }) =>
        this.#renderErrorPage(c, error.status),
    }
    const trusted = parseTrustedProxies(settings.app.trusted_proxies)
    const configuredOrigin = settings.app.origin
    // Parsing addresses and URLs for every request showed in profiles. The results depend
    // only on the strings in the keys below.
    const clientAddresses = new BoundedMemo<string>(MEMO_ENTRIES)
    const origins = new BoundedMemo<string>(MEMO_ENTRIES)
    // One policy for layer 3 and for responses that leave before layer 3 ran.
    const headerPolicy = new SecurityHeaderPolicy({
      hsts: production,
      hstsMaxAge: settings.middleware.hsts_max_age,
      csp: settings.middleware.csp,
      logger,
    })
    // An application without a public/ folder serves no static files.
    const publicFolder = join(settings.root, 'public')
    const staticFiles = existsSync(publicFolder)
      ? serveStatic({ root: publicFolder, prefix: '/static', maxAge: production ? 3600 : 0 })
      : undefined

    // Layer 1: request context and error boundary.
    this.use(
      requestContext({
        ...errorOptions,
        logger,
        resolveClientAddress: (c) => {
          const peer = remoteAddressOf(c)
          const forwardedFor = requestHeader(c, 'x-forwarded-for')
          return clientAddresses.get(`${peer}\n${memoKeyPart(forwardedFor)}`, () =>
            clientAddress(peer, forwardedFor, trusted),
          )
        },
        resolveOrigin: (c) => {
          if (configuredOrigin !== undefined) return configuredOrigin
          const urlOrigin = originOfUrl(c.req.url)
          if (trusted.none) return urlOrigin
          const peer = remoteAddressOf(c)
          const headers = {
            'x-forwarded-proto': requestHeader(c, 'x-forwarded-proto'),
            'x-forwarded-host': requestHeader(c, 'x-forwarded-host'),
          }
          const key = `${urlOrigin}\n${peer}\n${memoKeyPart(headers['x-forwarded-proto'])}\n${memoKeyPart(headers['x-forwarded-host'])}`
          return origins.get(key, () => forwardedOrigin(peer, urlOrigin, headers, trusted))
        },
        ensureSecurityHeaders: (headers) => headerPolicy.ensure(headers),
      }),
    )
    this.onError(createErrorHandler(errorOptions))
    // Static files are served where no route matched, so that guards the application mounts
    // on `/static/...` (which need the session) run before a file is sent.
    this.notFound(async (c) => {
      const isFileRequest = c.req.method === 'GET' || c.req.method === 'HEAD'
      if (staticFiles && isFileRequest && c.req.path.startsWith('/static/')) {
        const response = await staticFiles(c, async () => {
          throw new NotFoundError()
        })
        if (response) return response
      }
      return methodNotAllowedOrNotFound(this, c)
    })

    // Layer 2: limits.
    this.use(requestTimeout({ ms: settings.middleware.request_timeout }))
    this.use(bodyLimit({ maxBytes: settings.middleware.body_limit }))

    // Layer 3: security headers and the CSP nonce; then the framework's own scripts, which
    // need no session.
    this.use(securityHeaders(headerPolicy))
    this.use('/_fastblocks/*', assets.middleware)

    // Layer 4: rate-limit policies registered with `app.rateLimit()`, by method and path.
    this.use(async (c, next) => {
      // HEAD runs the GET route, so it counts against the GET policy.
      const method = c.req.method === 'HEAD' ? 'GET' : c.req.method
      const policy = this.#rateLimits.get(`${method} ${c.req.path}`)
      return policy === undefined ? next() : policy(c, next)
    })

    // Layer 5: session.
    this.use(
      session({
        secrets: [settings.app.session_secret, ...settings.app.session_previous_secrets],
        cookieName: settings.app.session_cookie,
        secure: production,
        hostPrefix: production,
        maxAge: settings.app.session_max_age,
        idleTimeout: settings.app.session_idle_timeout,
      }),
    )

    // Layer 6: CSRF.
    this.#csrf = csrfProtection({
      secret: settings.app.csrf_secret,
      trustedOrigins: settings.app.trusted_origins,
      logger,
    })
    this.use(this.#csrf.middleware)

    // Layer 7: authentication guards are per route.

    // Layers 8 and 9: htmx details, then rendering for the handlers.
    this.use(htmx())
    this.use(renderer(this.templates, headAssets))

    logStartupChoices(settings, logger)
  }

  /**
   * Turns CSRF protection off for one method and path, such as a webhook that another
   * service signs. Logged at start-up with the reason.
   */
  csrfExempt(method: string, path: string, reason: string): this {
    this.#csrf.exempt(method, path, reason)
    return this
  }

  /**
   * Limits the requests one client may make to one method and exact path, in pipeline layer 4:
   * before the session and CSRF layers, so that a flood costs no decryption. A request past
   * the limit gets 429 with `Retry-After`. For paths with parameters, mount `rateLimit()` from
   * `fastblocks/rate-limit` on the route instead.
   *
   * @example
   * ```ts
   * app.rateLimit('POST', '/login', { name: 'login', points: 5, duration: 60 })
   * ```
   */
  rateLimit(method: string, path: string, options: RateLimitOptions): this {
    this.#rateLimits.set(`${method.toUpperCase()} ${path}`, rateLimit(options))
    return this
  }

  async #renderErrorPage(c: Context<FastBlocksEnv>, status: number): Promise<string | undefined> {
    for (const name of [`errors/${status}.html`, 'errors/error.html']) {
      if (await this.templates.exists(name)) {
        return this.templates.render(name, errorTemplateContext(c, status))
      }
    }
    return undefined
  }

  /**
   * Starts the Node server with the header, request and keep-alive timeouts of the limits
   * layer, and resolves once it listens.
   */
  listen(options: ListenOptions = {}): Promise<RunningServer> {
    const port = options.port ?? Number(process.env.PORT ?? 8000)
    const host = options.host ?? process.env.HOST ?? '127.0.0.1'
    return new Promise((resolve, reject) => {
      const server = serve(
        {
          fetch: this.fetch,
          port,
          hostname: host,
          serverOptions: nodeServerLimits(this.settings.middleware),
        },
        (info: AddressInfo) => {
          const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address
          const url = `http://${shownHost}:${info.port}`
          this.logger.info({ url, env: this.settings.env }, 'server listening')
          resolve({
            url,
            server,
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done())
                if ('closeIdleConnections' in server) server.closeIdleConnections()
              }),
          })
        },
      )
      server.once('error', reject)
    })
  }
}

/** Returns a renderer for an application without a templates folder. Every render fails. */
function missingTemplates(folder: string): TemplateRenderer {
  const fail = async (name: string): Promise<never> => {
    throw new TemplateNotFoundError(`${name} (the templates folder ${folder} does not exist)`)
  }
  return {
    render: fail,
    renderBlock: fail,
    exists: async () => false,
  }
}

/**
 * Returns the variables of an error page. The page gets the names a layout expects, but no
 * scripts, token or flash messages: the error may come from a layer before the session, and
 * an error page needs no htmx.
 */
function errorTemplateContext(c: Context<FastBlocksEnv>, status: number): Record<string, unknown> {
  return {
    status,
    request_id: c.get('requestId'),
    csp_nonce: c.get('cspNonce') ?? '',
    csrf_token: '',
    csrf_token_value: '',
    fastblocks_head: '',
    flash_messages: () => [],
    request: { path: c.req.path, htmx: c.get('htmx') },
  }
}

/** Returns the origin of an absolute URL without parsing all of it. */
function originOfUrl(url: string): string {
  const pathStart = url.indexOf('/', url.indexOf('://') + 3)
  return pathStart === -1 ? url : url.slice(0, pathStart)
}

/**
 * Returns a header value as a part of a memo key: `-` for a missing header and `+` before a
 * present one. Without the marker, a header whose value is the text `undefined` would share
 * the key of a missing header, and one client could choose the result for other clients.
 * The parts are joined with line feeds, which no header value contains.
 */
function memoKeyPart(value: string | undefined): string {
  return value === undefined ? '-' : `+${value}`
}

function remoteAddressOf(c: Context<FastBlocksEnv>): string {
  // `app.request()` in tests runs without a socket.
  if (!c.env) return '127.0.0.1'
  return peerAddressOf(c) ?? getConnInfo(c).remote.address ?? '127.0.0.1'
}

function logStartupChoices(settings: Settings, logger: Logger): void {
  const templates = settings.templates
  if (!templates.autoescape) {
    logger.warn({ setting: 'autoescape' }, 'template autoescaping is turned off')
  }
  if (settings.env !== 'production') {
    logger.info(
      { env: settings.env },
      'not in production: no HSTS, session cookie without Secure and __Host- prefix',
    )
  }
}

/**
 * Loads `settings/*.yml` under `root`, validates them and builds the application with the
 * whole security pipeline in front of its routes.
 *
 * @example
 * ```ts
 * const app = await createApp({ root: import.meta.dirname })
 * app.get('/', (c) => c.render('index.html', { notes }, { block: 'notes' }))
 * await app.listen()
 * ```
 */
export async function createApp(options: CreateAppOptions = {}): Promise<FastBlocks> {
  const bootLogger = createLogger({ level: 'info', destination: options.logDestination })
  const root = options.root ?? process.cwd()
  const settings = await loadSettings({ ...options, root, logger: bootLogger })
  const logger = createLogger({
    level: settings.app.log_level,
    destination: options.logDestination,
  })
  return new FastBlocks(settings, logger)
}
