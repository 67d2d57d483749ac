import { InvalidSettingsError } from '../errors/index.ts'

/** Reason a request's source was rejected, as written to the log. */
export type OriginFailure =
  | 'cross-site request'
  | 'missing origin'
  | 'null origin'
  | 'invalid origin'
  | 'invalid referer'
  | 'untrusted origin'

/** Request headers the source check reads, each undefined when absent. */
export interface SourceHeaders {
  secFetchSite: string | undefined
  origin: string | undefined
  referer: string | undefined
}

/**
 * Parses each configured trusted origin with the WHATWG URL parser and returns their
 * serialized origins. Raises InvalidSettingsError for a value that is not an http(s)
 * origin exactly as browsers serialize it in the Origin header.
 */
export function parseTrustedOrigins(values: readonly string[]): Set<string> {
  const origins = new Set<string>()
  for (const value of values) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new InvalidSettingsError(
        `Invalid trusted origin "${value}": write it as scheme://host[:port], such as https://admin.app.example`,
      )
    }

    // Comparing with the serialization rejects paths, queries, credentials, upper case and
    // default ports alike, so the configured text is exactly what an Origin header carries.
    const isHttp = url.protocol === 'https:' || url.protocol === 'http:'
    if (!isHttp || url.origin !== value) {
      throw new InvalidSettingsError(
        `Invalid trusted origin "${value}": expected an http(s) origin with no path, such as ` +
          `https://admin.app.example` +
          (isHttp ? ` (did you mean "${url.origin}"?)` : ''),
      )
    }
    origins.add(url.origin)
  }
  return origins
}

/**
 * Serializes the origin of a URL or origin string. Returns 'null' for opaque origins
 * (`file:`, `data:`, sandboxed documents) and undefined for a value that does not parse.
 */
export function originOf(value: string): string | undefined {
  try {
    return new URL(value).origin
  } catch {
    return undefined
  }
}

/**
 * Decides whether an unsafe request comes from the application itself or a trusted origin.
 * Returns the failure, or undefined when the source is allowed.
 *
 * `isAllowed` receives a serialized origin that is not 'null'.
 */
export function checkSource(
  headers: SourceHeaders,
  isAllowed: (origin: string) => boolean,
): OriginFailure | undefined {
  // A browser that sends Fetch Metadata states that another site made the request.
  // `same-site` is not enough to pass: another port or subdomain is same-site but cross-origin.
  if (headers.secFetchSite === 'cross-site') return 'cross-site request'

  // Origin is the browser's own statement of the requesting origin, so it decides when present.
  if (headers.origin !== undefined) {
    // Browsers send "null" from sandboxed frames, data: URLs and some redirects: no origin to trust.
    if (headers.origin === 'null') return 'null origin'
    const origin = originOf(headers.origin)
    if (origin === undefined) return 'invalid origin'
    if (origin === 'null') return 'null origin'
    return isAllowed(origin) ? undefined : 'untrusted origin'
  }

  // Older browsers omit Origin on same-origin form posts, so the Referer's origin is used instead.
  if (headers.referer !== undefined) {
    const origin = originOf(headers.referer)
    if (origin === undefined) return 'invalid referer'
    if (origin === 'null') return 'null origin'
    return isAllowed(origin) ? undefined : 'untrusted origin'
  }

  // Neither header: the source cannot be proven. Current browsers send Origin on every unsafe method.
  return 'missing origin'
}
