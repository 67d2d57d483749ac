/** The stacks the runner can start, in the order they appear in the tables. */

export interface StackDefinition {
  /** File name under `bench/stacks/` without `.ts`, and the name used on the command line. */
  name: string
  /** Packages shown in the results next to the name, read from node_modules for versions. */
  packages: string[]
  /**
   * True when the stack has a session, CSRF protection and a CSP nonce. The bare `node` stack
   * has none of them, so the checks of those are skipped for it.
   */
  secured: boolean
  /**
   * True when the stack trusts `X-Forwarded-Proto` from loopback and so takes its own origin to be
   * `https://127.0.0.1:<port>`; the Origin header sent on POST must then use https.
   */
  trustsProxy: boolean
}

export const stackDefinitions: readonly StackDefinition[] = [
  {
    name: 'fastblocks',
    packages: ['hono', '@hono/node-server', 'nunjucks', 'jose'],
    secured: true,
    trustsProxy: true,
  },
  {
    name: 'express',
    packages: ['express', 'helmet', 'express-session', 'csrf-csrf', 'cookie-parser', 'nunjucks'],
    secured: true,
    trustsProxy: true,
  },
  {
    name: 'fastify',
    packages: [
      'fastify',
      '@fastify/helmet',
      '@fastify/secure-session',
      '@fastify/csrf-protection',
      '@fastify/formbody',
      '@fastify/view',
      'nunjucks',
    ],
    secured: true,
    trustsProxy: false,
  },
  {
    name: 'hono',
    packages: ['hono', '@hono/node-server', 'jose', 'nunjucks'],
    secured: true,
    trustsProxy: false,
  },
  { name: 'node', packages: ['nunjucks'], secured: false, trustsProxy: false },
]

/** Returns the Origin header value that a stack accepts as its own. */
export function ownOrigin(stack: StackDefinition, port: number): string {
  return `${stack.trustsProxy ? 'https' : 'http'}://127.0.0.1:${port}`
}
