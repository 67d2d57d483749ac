/**
 * The measured endpoints and one autocannon run against one of them.
 */
import autocannon from 'autocannon'
import { proxyHeaders } from './http.ts'
import type { LoadFixture } from './checks.ts'

export interface Endpoint {
  /** Name used on the command line (`--endpoints page,plain`). */
  name: string
  /** Heading of the endpoint's table. */
  title: string
  method: 'GET' | 'POST'
  path: string
  /** Extra request headers, built from the stack's fixture. */
  headers: (fixture: LoadFixture) => Record<string, string>
  body?: (fixture: LoadFixture) => string
  /** True when a 3xx answer counts as a success (the form post redirects). */
  acceptsRedirect: boolean
}

export const endpoints: readonly Endpoint[] = [
  {
    name: 'page',
    title: 'GET /page: full page, session read and written',
    method: 'GET',
    path: '/page',
    headers: (fixture) => ({ Cookie: fixture.cookie }),
    acceptsRedirect: false,
  },
  {
    name: 'htmx',
    title: 'GET /page with HX-Request: list block only, session read and written',
    method: 'GET',
    path: '/page',
    headers: (fixture) => ({ Cookie: fixture.cookie, 'HX-Request': 'true' }),
    acceptsRedirect: false,
  },
  {
    name: 'submit',
    title: 'POST /submit: form with a valid CSRF token, session written, 303',
    method: 'POST',
    path: '/submit',
    headers: (fixture) => ({
      Cookie: fixture.cookie,
      Origin: fixture.origin,
      'Content-Type': 'application/x-www-form-urlencoded',
    }),
    body: (fixture) => fixture.submitBody,
    acceptsRedirect: true,
  },
  {
    name: 'plain',
    title: 'GET /plain: plain text, no cookie',
    method: 'GET',
    path: '/plain',
    headers: () => ({}),
    acceptsRedirect: false,
  },
]

export interface LoadSettings {
  /** Seconds of load. */
  duration: number
  /** Concurrent keep-alive connections. */
  connections: number
}

/** Figures of one run. Latencies are in milliseconds. */
export interface LoadSample {
  requestsPerSecond: number
  p50: number
  p99: number
  total: number
}

/**
 * Loads one stack's endpoint with autocannon in this process (no worker threads) and returns
 * the figures.
 *
 * @throws Error when any request failed: a connection error, a timeout or an unexpected status.
 */
export async function runLoad(
  baseUrl: string,
  endpoint: Endpoint,
  fixture: LoadFixture,
  settings: LoadSettings,
): Promise<LoadSample> {
  const headers = { ...proxyHeaders, ...endpoint.headers(fixture) }
  const body = endpoint.body?.(fixture)
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body))

  const result = await autocannon({
    url: `${baseUrl}${endpoint.path}`,
    method: endpoint.method,
    headers,
    body,
    connections: settings.connections,
    pipelining: 1,
    duration: settings.duration,
    timeout: 10,
  })

  const succeeded = result['2xx'] + (endpoint.acceptsRedirect ? result['3xx'] : 0)
  const failed = result.requests.total - succeeded
  if (result.errors > 0 || failed > 0) {
    throw new Error(
      `${endpoint.method} ${endpoint.path} on ${baseUrl}: ${failed} unexpected responses ` +
        `(1xx ${result['1xx']}, 3xx ${result['3xx']}, 4xx ${result['4xx']}, 5xx ${result['5xx']}), ` +
        `${result.errors} errors, ${result.timeouts} timeouts`,
    )
  }
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
  }
}
