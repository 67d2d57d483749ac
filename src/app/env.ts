import type { Logger } from 'pino'
import type { Session } from '../session/types.ts'
import type { HtmxDetails } from '../htmx/types.ts'

/** Values each pipeline layer sets on the Hono context, read with `c.var.name`. */
export interface FastBlocksVariables {
  /** Request id, from layer 1; also sent as the `X-Request-Id` response header. */
  requestId: string
  /** pino child logger bound to the request id, from layer 1. */
  logger: Logger
  /** Client address after the trusted-proxy rules, from layer 1. */
  clientAddress: string
  /** The origin the application is served on for this request, such as `https://app.example`. */
  appOrigin: string
  /** Per-response CSP nonce (128 random bits, base64), from layer 3. */
  cspNonce: string
  /** Session, from layer 5. */
  session: Session
  /** Returns a fresh masked CSRF token bound to the session, from layer 6. */
  csrfToken: () => string
  /** htmx request details, from layer 8. */
  htmx: HtmxDetails
}

export interface FastBlocksEnv {
  Variables: FastBlocksVariables
}
