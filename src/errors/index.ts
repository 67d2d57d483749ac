/**
 * Typed errors. Every failure kind the framework rejects a request for has its own class
 * with a stable `code` and an HTTP `status`, so callers and tests switch on the code and
 * never on the message.
 *
 * `expose` says whether `message` is safe to show to the client. Errors that are not
 * exposed are shown as the generic text for their status.
 */

export type ErrorCode =
  | 'E_BAD_REQUEST'
  | 'E_NOT_FOUND'
  | 'E_METHOD_NOT_ALLOWED'
  | 'E_BODY_TOO_LARGE'
  | 'E_REQUEST_TIMEOUT'
  | 'E_HEADERS_TOO_LARGE'
  | 'E_NON_CANONICAL_PATH'
  | 'E_BAD_CSRF_TOKEN'
  | 'E_BAD_CSRF_ORIGIN'
  | 'E_UNSAFE_REDIRECT'
  | 'E_RATE_LIMITED'
  | 'E_SESSION_TOO_LARGE'
  | 'E_TEMPLATE'
  | 'E_TEMPLATE_NOT_FOUND'
  | 'E_UNDEFINED_VARIABLE'
  | 'E_INVALID_SETTINGS'
  | 'E_WEAK_SECRET'
  | 'E_INTERNAL'

export interface FastBlocksErrorOptions {
  cause?: unknown
  /** Headers to send with the error response, such as `Retry-After` or `Allow`. */
  headers?: Record<string, string>
  /**
   * Facts for the log line of the rejection, such as the layer and the reason. Logged once by
   * the error boundary, never sent to the client; never put a secret, token or cookie here.
   */
  details?: Record<string, unknown>
}

/** Base class of every error the framework raises on purpose. */
export class FastBlocksError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly expose: boolean
  readonly headers: Record<string, string>
  readonly details: Record<string, unknown>

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    expose: boolean,
    options: FastBlocksErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = status
    this.expose = expose
    this.headers = options.headers ?? {}
    this.details = options.details ?? {}
  }
}

export class BadRequestError extends FastBlocksError {
  constructor(message = 'Bad request', options?: FastBlocksErrorOptions) {
    super('E_BAD_REQUEST', 400, message, true, options)
  }
}

export class NotFoundError extends FastBlocksError {
  constructor(message = 'Not found', options?: FastBlocksErrorOptions) {
    super('E_NOT_FOUND', 404, message, true, options)
  }
}

export class MethodNotAllowedError extends FastBlocksError {
  constructor(allowed: string[], options?: FastBlocksErrorOptions) {
    super('E_METHOD_NOT_ALLOWED', 405, 'Method not allowed', true, {
      ...options,
      headers: { ...options?.headers, Allow: allowed.join(', ') },
    })
  }
}

export class BodyTooLargeError extends FastBlocksError {
  constructor(limitBytes: number, options?: FastBlocksErrorOptions) {
    super(
      'E_BODY_TOO_LARGE',
      413,
      `Request body is larger than the limit of ${limitBytes} bytes`,
      true,
      options,
    )
  }
}

export class RequestTimeoutError extends FastBlocksError {
  constructor(timeoutMs: number, options?: FastBlocksErrorOptions) {
    super('E_REQUEST_TIMEOUT', 503, `Request timed out after ${timeoutMs} ms`, true, options)
  }
}

export class NonCanonicalPathError extends FastBlocksError {
  constructor(options?: FastBlocksErrorOptions) {
    super(
      'E_NON_CANONICAL_PATH',
      400,
      'Request path is not in canonical form (encoded separators, dot segments or empty segments)',
      true,
      options,
    )
  }
}

/** The request carried no valid CSRF token for this session. */
export class CsrfTokenError extends FastBlocksError {
  constructor(message = 'Invalid or missing CSRF token', options?: FastBlocksErrorOptions) {
    super('E_BAD_CSRF_TOKEN', 403, message, true, options)
  }
}

/** The request came from another site or origin (Sec-Fetch-Site, Origin or Referer). */
export class CsrfOriginError extends FastBlocksError {
  constructor(message = 'Cross-origin request rejected', options?: FastBlocksErrorOptions) {
    super('E_BAD_CSRF_ORIGIN', 403, message, true, options)
  }
}

export class UnsafeRedirectError extends FastBlocksError {
  constructor(message = 'Redirect target is not on this origin', options?: FastBlocksErrorOptions) {
    super('E_UNSAFE_REDIRECT', 400, message, true, options)
  }
}

export class RateLimitError extends FastBlocksError {
  constructor(retryAfterSeconds: number, options?: FastBlocksErrorOptions) {
    super('E_RATE_LIMITED', 429, 'Too many requests', true, {
      ...options,
      headers: { ...options?.headers, 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
    })
  }
}

/** The sealed session would not fit in one cookie. A programming error, so not exposed. */
export class SessionTooLargeError extends FastBlocksError {
  constructor(sizeBytes: number, limitBytes: number, options?: FastBlocksErrorOptions) {
    super(
      'E_SESSION_TOO_LARGE',
      500,
      `Sealed session cookie is ${sizeBytes} bytes, over the limit of ${limitBytes} bytes: ` +
        'store less in the session or use a server-side session store',
      false,
      options,
    )
  }
}

export class TemplateError extends FastBlocksError {
  constructor(message: string, options?: FastBlocksErrorOptions) {
    super('E_TEMPLATE', 500, message, false, options)
  }
}

export class TemplateNotFoundError extends FastBlocksError {
  constructor(name: string, options?: FastBlocksErrorOptions) {
    super('E_TEMPLATE_NOT_FOUND', 500, `Template not found: ${name}`, false, options)
  }
}

/** Raised under `strict_undefined` when a template reads a variable that is not defined. */
export class UndefinedVariableError extends FastBlocksError {
  readonly template: string
  readonly line: number
  readonly variable: string

  constructor(template: string, line: number, variable: string, options?: FastBlocksErrorOptions) {
    super(
      'E_UNDEFINED_VARIABLE',
      500,
      `Undefined variable "${variable}" in template ${template} at line ${line}`,
      false,
      options,
    )
    this.template = template
    this.line = line
    this.variable = variable
  }
}

/** Settings that fail validation at start-up. The message names the file, the key and the fix. */
export class InvalidSettingsError extends FastBlocksError {
  constructor(message: string, options?: FastBlocksErrorOptions) {
    super('E_INVALID_SETTINGS', 500, message, false, options)
  }
}

/** A missing, short, placeholder or reused secret in production. */
export class WeakSecretError extends FastBlocksError {
  readonly setting: string

  constructor(setting: string, message: string, options?: FastBlocksErrorOptions) {
    super('E_WEAK_SECRET', 500, message, false, options)
    this.setting = setting
  }
}

/** Wraps any error that was not raised on purpose. Never exposed. */
export class InternalError extends FastBlocksError {
  constructor(options?: FastBlocksErrorOptions) {
    super('E_INTERNAL', 500, 'Internal server error', false, options)
  }
}

/** Returns the error as a FastBlocksError, wrapping anything else in an InternalError. */
export function toFastBlocksError(error: unknown): FastBlocksError {
  if (error instanceof FastBlocksError) return error
  return new InternalError({ cause: error })
}
