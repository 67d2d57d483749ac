/**
 * The few HTTP pieces the correctness checks and the load share: a cookie jar, the headers
 * every request carries, and a request helper that does not follow redirects.
 */

/**
 * Headers sent on every request to every stack. The client plays a TLS-terminating proxy
 * on loopback, so stacks that trust it (and only those) see the request as HTTPS.
 */
export const proxyHeaders: Readonly<Record<string, string>> = { 'X-Forwarded-Proto': 'https' }

/** Cookies by name, updated from each response's Set-Cookie headers. */
export class CookieJar {
  readonly #cookies = new Map<string, string>()

  /** Stores the cookies a response sets; an expired or emptied cookie is removed. */
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0] ?? ''
      const separator = pair.indexOf('=')
      if (separator <= 0) continue
      const name = pair.slice(0, separator).trim()
      const value = pair.slice(separator + 1).trim()
      const expired = /;\s*max-age=0\b/i.test(line) || value === ''
      if (expired) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  get size(): number {
    return this.#cookies.size
  }

  /** Returns the value of a Cookie request header that carries every stored cookie. */
  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

export interface SentRequest {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

export interface ReceivedResponse {
  status: number
  headers: Headers
  body: string
}

/**
 * Sends one request with the proxy headers and, when a jar is given, its cookies; stores the
 * cookies of the response in the jar. Redirects are returned, not followed.
 */
export async function send(
  url: string,
  request: SentRequest = {},
  jar?: CookieJar,
): Promise<ReceivedResponse> {
  const headers: Record<string, string> = { ...proxyHeaders, ...request.headers }
  if (jar !== undefined && jar.size > 0) headers.Cookie = jar.header()
  const response = await fetch(url, {
    method: request.method ?? 'GET',
    headers,
    body: request.body,
    redirect: 'manual',
  })
  jar?.store(response)
  return { status: response.status, headers: response.headers, body: await response.text() }
}

/** Encodes fields as an `application/x-www-form-urlencoded` body. */
export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}
