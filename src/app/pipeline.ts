/**
 * Order of the request pipeline, outermost first. Each layer's place has a reason:
 *
 * 1. request context: request id, logger, client address and the error boundary come first
 *    so that every later layer logs with the id and every error, a 413 from layer 2
 *    included, becomes an error page with the baseline headers.
 * 2. limits: reject an oversized or slow body before any layer spends work on it.
 * 3. security headers and the CSP nonce: set on every response that gets this far, and
 *    the nonce must exist before anything renders.
 *    The framework's own scripts are served right after this layer: they need the headers
 *    but no session. Files under `/static/` are served where no route matched, after every
 *    layer, so that a guard on `/static/admin/*` runs first.
 * 4. rate limiting: the policies registered with `app.rateLimit()`, before the session and
 *    CSRF layers so that a flood costs no decryption.
 * 5. session: the CSRF token is bound to it and handlers read it.
 * 6. CSRF: needs the session seed; runs before authentication so that a forged request
 *    never reaches a login or a guard with side effects.
 * 7. authentication and authorization: per-route guards.
 * 8. htmx details on the context and `Vary: HX-Request` on the response.
 * 9. the route handler and template rendering through `c.render()`.
 */
export const PIPELINE = [
  'request-context',
  'limits',
  'security-headers',
  'rate-limit',
  'session',
  'csrf',
  'auth',
  'htmx',
  'render',
] as const

export type PipelineLayer = (typeof PIPELINE)[number]
