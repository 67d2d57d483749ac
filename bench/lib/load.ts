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
  /** True when a 3xx response counts as a success (the form post redirects). */
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
  /** Server CPU time (user and system) per request during the run, in microseconds. */
  cpuPerRequest: number
}

/** Returns the value at a percentile (0-100) of sorted values, by the nearest-rank method. */
export function percentile(sorted: readonly number[], rank: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil((rank / 100) * sorted.length) - 1),
  )
  return sorted[index] ?? Number.NaN
}

/** Runs autocannon and records the latency of every response, to the microsecond. */
function runAutocannon(
  options: autocannon.Options,
): Promise<{ result: autocannon.Result; latencies: number[] }> {
  const latencies: number[] = []
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)))
      else resolve({ result, latencies })
    })
    // autocannon's own histogram keeps whole milliseconds, too coarse for sub-millisecond
    // responses; the response event carries the exact duration in milliseconds.
    instance.on('response', (_client, _statusCode, _bytes, responseTime: number) => {
      latencies.push(responseTime)
    })
  })
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
  serverCpuMicroseconds: () => number,
): Promise<LoadSample> {
  const headers = { ...proxyHeaders, ...endpoint.headers(fixture) }
  const body = endpoint.body?.(fixture)
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body))

  const cpuBefore = serverCpuMicroseconds()
  const { result, latencies } = await runAutocannon({
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
  const cpuUsed = serverCpuMicroseconds() - cpuBefore
  latencies.sort((a, b) => a - b)
  return {
    requestsPerSecond: result.requests.average,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    total: result.requests.total,
    cpuPerRequest: cpuUsed / result.requests.total,
  }
}
