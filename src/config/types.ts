/** Values of `security_level` in `templates.yml`. */
export type SecurityLevel = 'STANDARD' | 'STRICT'

export type Environment = 'development' | 'test' | 'production'

/**
 * Resolved settings: what `settings/*.yml` contains after `${ENV_VAR}` interpolation,
 * validation and defaults. The yml keys are the snake_case names below.
 */
export interface Settings {
  /** Absolute path of the application root (the folder with `settings/`, `templates/`, `public/`). */
  root: string
  /** From `NODE_ENV`, or `app.yml` `env`. Default `development`. */
  env: Environment
  app: AppSettings
  middleware: MiddlewareSettings
  templates: TemplateSettings
}

export interface AppSettings {
  /** Application name, used in page titles and logs. Default `FastBlocks app`. */
  name: string
  /**
   * Public origin such as `https://app.example`. When unset, the origin is taken from the
   * request's Host (and from `X-Forwarded-Proto`/`X-Forwarded-Host` only from a trusted proxy).
   */
  origin: string | undefined
  /** Other origins allowed to send unsafe requests, such as `https://admin.app.example`. */
  trusted_origins: string[]
  /**
   * Addresses or CIDR ranges of proxies whose `X-Forwarded-*` headers are believed, or the
   * names `loopback`, `linklocal` and `uniquelocal`. Default none.
   */
  trusted_proxies: string[]
  /** Secret for CSRF tokens, at least 32 bytes. */
  csrf_secret: string
  /** Current session sealing secret, at least 32 bytes; new cookies are sealed with it. */
  session_secret: string
  /** Older session secrets, still accepted for reading until removed. Default none. */
  session_previous_secrets: string[]
  /** Session cookie name. Default `session`, sent as `__Host-session` in production. */
  session_cookie: string
  /** Absolute session lifetime in seconds, from creation. Default 1209600 (14 days). */
  session_max_age: number
  /** Idle timeout in seconds, from the last request. Default 7200 (2 hours). */
  session_idle_timeout: number
  /** htmx major version served and supported: 4 (default) or 2. */
  htmx_version: 2 | 4
  /** pino log level. Default `info` (`warn` in test). */
  log_level: string
}

export interface MiddlewareSettings {
  /** Maximum request body in bytes. Default 1048576 (1 MiB). */
  body_limit: number
  /** Time a handler may take before a 503, in milliseconds. Default 30000. */
  request_timeout: number
  /** Node server: time to receive the request headers, in milliseconds. Default 10000. */
  headers_timeout: number
  /** Node server: maximum request header size in bytes; larger gets 431. Default 16384. */
  max_header_size: number
  /** Extra CSP sources per directive, such as `{ img-src: ["https://cdn.example"] }`. */
  csp: Record<string, string[]>
  /** HSTS max-age in seconds, sent in production. Default 31536000 (one year). */
  hsts_max_age: number
}

export interface TemplateSettings {
  /** Folder of the templates, relative to the root. Default `templates`. */
  directory: string
  /** `STANDARD` or `STRICT` (undefined variables are errors). Default `STANDARD`. */
  security_level: SecurityLevel
  /** Raise on undefined variables. Default false; forced true by `STRICT`. */
  strict_undefined: boolean
  /** HTML-escape output. Default true; cannot be turned off under `STRICT`. */
  autoescape: boolean
  /** Recompile a template when its file changes. Default true in development only. */
  reload: boolean
}
