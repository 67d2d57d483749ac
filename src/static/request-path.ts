/**
 * Parsing of the raw request path for static files. The path is checked as it was sent, before
 * any decoding, so that every form which a router, a guard and the file system could read
 * differently is rejected instead of being interpreted.
 */

/** Reason a static file request was rejected, logged as `reason`. */
export type PathRejectionReason =
  | 'backslash'
  | 'invalid_encoding'
  | 'encoded_separator'
  | 'encoded_unreserved'
  | 'control_character'
  | 'dot_segment'
  | 'empty_segment'
  | 'dotfile'
  | 'directory'

/** Result of {@link parseStaticPath}: the decoded segments, or the reason and status of a rejection. */
export type StaticPathResult =
  { ok: true; segments: string[] } | { ok: false; reason: PathRejectionReason; status: 400 | 404 }

const MALFORMED_PERCENT = /%(?![0-9A-Fa-f]{2})/
const ENCODED_SEPARATOR = /%(?:2f|5c)/i
// Unreserved characters (RFC 3986 section 2.3: ALPHA, DIGIT, "-", ".", "_", "~") never need
// encoding, so a client that encodes one sends a second spelling of a path a guard may not know.
const ENCODED_UNRESERVED = /%(?:3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2[de]|5f|7e)/i
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/

export { rawPathOf } from '../request-context/canonical-path.ts'

/** Returns true when the raw path has a `.` or `..` segment, spelled raw or percent-encoded. */
export function hasDotSegment(rawPath: string): boolean {
  return rawPath.split('/').some((segment) => {
    const lowered = segment.toLowerCase().replaceAll('%2e', '.')
    return lowered === '.' || lowered === '..'
  })
}

/**
 * Splits the raw path below the static prefix (`css/site.css`, no leading slash) into decoded
 * segments, or returns why it is rejected: 400 for a path that is not in canonical form,
 * 404 for a dotfile or a directory.
 */
export function parseStaticPath(rest: string): StaticPathResult {
  // An empty rest or a trailing slash names a directory, and directories are never listed.
  if (rest === '' || rest.endsWith('/')) return reject('directory', 404)

  const segments: string[] = []
  for (const raw of rest.split('/')) {
    const result = parseSegment(raw)
    if (typeof result !== 'string') return result
    segments.push(result)
  }

  // Dotfiles (`.env`, `.git/config`) are checked once the whole path is known to be canonical,
  // so a malformed path always gets 400, whatever segment has the dot.
  if (segments.some((segment) => segment.startsWith('.'))) return reject('dotfile', 404)

  return { ok: true, segments }
}

function parseSegment(raw: string): string | StaticPathResult {
  // `//` inside the path: routers and file systems disagree about empty segments.
  if (raw === '') return reject('empty_segment', 400)

  // A backslash is a separator on Windows and is turned into `/` by WHATWG URL parsing.
  if (raw.includes('\\')) return reject('backslash', 400)

  if (MALFORMED_PERCENT.test(raw)) return reject('invalid_encoding', 400)

  // `%2F` and `%5C` would become separators only after the router has matched the path.
  if (ENCODED_SEPARATOR.test(raw)) return reject('encoded_separator', 400)

  let decoded: string
  try {
    decoded = decodeURIComponent(raw)
  } catch {
    // Percent-encoded bytes that are not valid UTF-8.
    return reject('invalid_encoding', 400)
  }

  if (CONTROL_CHARACTER.test(decoded)) return reject('control_character', 400)

  // `.` and `..`, raw or as `%2e`, would move out of the folder the guard saw.
  if (decoded === '.' || decoded === '..') return reject('dot_segment', 400)

  if (ENCODED_UNRESERVED.test(raw)) return reject('encoded_unreserved', 400)

  return decoded
}

function reject(reason: PathRejectionReason, status: 400 | 404): StaticPathResult {
  return { ok: false, reason, status }
}
