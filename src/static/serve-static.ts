import { constants, realpathSync, statSync, type Stats } from 'node:fs'
import { open, realpath, type FileHandle } from 'node:fs/promises'
import { isAbsolute, join, relative, sep } from 'node:path'
import { Readable } from 'node:stream'
import type { Context, MiddlewareHandler } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import {
  BadRequestError,
  InvalidSettingsError,
  NonCanonicalPathError,
  NotFoundError,
} from '../errors/index.ts'
import { isNotModified } from './conditional.ts'
import { contentTypeFor } from './mime.ts'
import {
  hasDotSegment,
  parseStaticPath,
  rawPathOf,
  type PathRejectionReason,
} from './request-path.ts'

export interface ServeStaticOptions {
  /** Absolute path of the folder to serve. Its real path (symlinks resolved) is taken at set-up. */
  root: string
  /** URL path the files are served under, such as `/static`; `/` serves them from the site root. */
  prefix: string
  /** `max-age` of the `Cache-Control` header, in seconds. Default 0: revalidate with the ETag. */
  maxAge?: number
}

/** Reason a static file request was rejected, logged as `reason` with the layer `static`. */
export type StaticRejectionReason =
  PathRejectionReason | 'outside_root' | 'alias' | 'not_a_file' | 'unreadable'

const MAX_LOGGED_PATH_LENGTH = 200

/**
 * Serves the files under `root` for GET and HEAD requests whose path starts with `prefix`.
 *
 * The raw request path is checked before anything is decoded. These get 400:
 * - encoded separators (`%2F`, `%5C`) and backslashes,
 * - `.` and `..` segments, raw or as `%2e`, and empty segments (`//`),
 * - percent-encoded unreserved characters (`%61` for `a`),
 * - control characters and invalid percent-encoding.
 *
 * Dotfiles and directories get 404. The file's real path must lie inside the real root and be
 * exactly the path that was requested. So symlinks, case-insensitive file systems and Windows name
 * aliases cannot reach a file under another URL than its own. Other methods and paths outside the
 * prefix go to the next handler, and so does a file that does not exist.
 *
 * Responses carry Content-Type (from a small extension map, `application/octet-stream`
 * otherwise), Content-Length, a weak ETag from size and modification time, Last-Modified,
 * `Cache-Control: public, max-age=<maxAge>` and `X-Content-Type-Options: nosniff`, and a
 * conditional request that matches gets 304.
 *
 * @throws InvalidSettingsError at set-up when `root` is not an absolute path to a folder or
 *   `prefix` is not a canonical URL path.
 *
 * @example
 * ```ts
 * app.use('/static/*', serveStatic({ root: join(appRoot, 'public'), prefix: '/static' }))
 * ```
 * @example
 * ```ts
 * // Long caching in production, for files whose names carry a content hash.
 * app.use('/assets/*', serveStatic({ root: assetsDir, prefix: '/assets', maxAge: 31536000 }))
 * ```
 */
export function serveStatic(options: ServeStaticOptions): MiddlewareHandler<FastBlocksEnv> {
  const root = resolveRoot(options.root)
  const prefix = normalisePrefix(options.prefix)
  const maxAge = options.maxAge ?? 0
  if (!Number.isInteger(maxAge) || maxAge < 0) {
    throw new InvalidSettingsError(
      `serveStatic: maxAge must be a whole number of seconds, 0 or more, got ${maxAge}`,
    )
  }
  const cacheControl = `public, max-age=${maxAge}`

  return async function serveStaticFile(c, next) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next()

    // Hono's `c.req.path` is already decoded, so the checks read the URL as it was received.
    const rawPath = rawPathOf(c.req.raw.url)
    if (!rawPath.startsWith(prefix)) return next()

    // @hono/node-server resolves dot segments before building the Request, so the path as sent
    // on the wire is checked too: `/static/x/../admin/secret.txt` is not served as an alias.
    const sentPath = sentRequestPath(c.env)
    if (sentPath !== undefined && hasDotSegment(sentPath)) {
      rejectRequest(c, 'dot_segment', 400, sentPath)
    }

    const parsed = parseStaticPath(rawPath.slice(prefix.length))
    if (!parsed.ok) rejectRequest(c, parsed.reason, parsed.status, rawPath)

    const file = await openFile(c, root, parsed.segments, rawPath)
    if (file === undefined) return next()

    return respondWithFile(c, file, cacheControl)
  }
}

interface OpenFile {
  handle: FileHandle
  realPath: string
  size: number
  modified: Date
}

/** Opens the requested file, or returns undefined when it does not exist. */
async function openFile(
  c: Context<FastBlocksEnv>,
  root: string,
  segments: string[],
  rawPath: string,
): Promise<OpenFile | undefined> {
  const candidate = join(root, ...segments)

  let realPath: string
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- segments are checked above
    realPath = await realpath(candidate)
  } catch (error) {
    if (isMissingFileError(error)) return undefined
    rejectRequest(c, 'unreadable', 404, rawPath)
  }

  // Containment is decided with path.relative, not a string prefix, so a sibling folder that
  // shares the root's name as a prefix (`public-evil` next to `public`) is outside.
  const relativePath = relative(root, realPath)
  if (isOutside(relativePath)) rejectRequest(c, 'outside_root', 404, rawPath)

  // A symlink inside the root, a case-insensitive file system (`ADMIN/` for `admin/`) or a
  // Windows name alias (`secret.txt.`) would let one file be served under a URL a guard does not know.
  if (relativePath !== segments.join(sep)) rejectRequest(c, 'alias', 404, rawPath)

  let handle: FileHandle
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- the real path is checked above
    handle = await open(realPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
  } catch (error) {
    if (isMissingFileError(error)) return undefined
    rejectRequest(c, 'unreadable', 404, rawPath)
  }

  // The type is read from the open handle, so the file that is checked is the one that is sent.
  let stats: Stats
  try {
    stats = await handle.stat()
  } catch (error) {
    await handle.close()
    throw error
  }
  if (!stats.isFile()) {
    await handle.close()
    rejectRequest(c, stats.isDirectory() ? 'directory' : 'not_a_file', 404, rawPath)
  }

  return { handle, realPath, size: stats.size, modified: stats.mtime }
}

async function respondWithFile(
  c: Context<FastBlocksEnv>,
  file: OpenFile,
  cacheControl: string,
): Promise<Response> {
  const etag = `W/"${file.size.toString(16)}-${Math.floor(file.modified.getTime()).toString(16)}"`
  const validators = {
    ETag: etag,
    'Last-Modified': file.modified.toUTCString(),
    'Cache-Control': cacheControl,
    'X-Content-Type-Options': 'nosniff',
  }

  const notModified = isNotModified(
    c.req.header('If-None-Match'),
    c.req.header('If-Modified-Since'),
    etag,
    file.modified,
  )
  if (notModified) {
    await file.handle.close()
    return c.body(null, 304, validators)
  }

  const headers = {
    ...validators,
    'Content-Type': contentTypeFor(file.realPath),
    'Content-Length': String(file.size),
  }
  if (c.req.method === 'HEAD' || file.size === 0) {
    await file.handle.close()
    return c.body(null, 200, headers)
  }

  // The stream stops at the size that was announced even if the file grows meanwhile, and it
  // closes the handle when it ends or the client goes away.
  const stream = file.handle.createReadStream({ start: 0, end: file.size - 1 })
  return c.body(Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, 200, headers)
}

function rejectRequest(
  c: Context<FastBlocksEnv>,
  reason: StaticRejectionReason,
  status: 400 | 404,
  path: string,
): never {
  const details = { layer: 'static', reason, path: path.slice(0, MAX_LOGGED_PATH_LENGTH) }
  if (status === 404) throw new NotFoundError(undefined, { details })
  if (reason === 'invalid_encoding' || reason === 'control_character') {
    throw new BadRequestError('Request path has invalid percent-encoding or control characters', {
      details,
    })
  }
  throw new NonCanonicalPathError({ details })
}

/** Returns the request path as the Node server received it, when the app runs on one. */
function sentRequestPath(env: unknown): string | undefined {
  if (typeof env !== 'object' || env === null || !('incoming' in env)) return undefined
  const incoming = env.incoming
  if (typeof incoming !== 'object' || incoming === null || !('url' in incoming)) return undefined
  return typeof incoming.url === 'string' ? rawPathOf(incoming.url) : undefined
}

function isOutside(relativePath: string): boolean {
  return isAbsolute(relativePath) || relativePath.split(sep)[0] === '..'
}

function isMissingFileError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

function resolveRoot(root: string): string {
  if (!isAbsolute(root)) {
    throw new InvalidSettingsError(`serveStatic: root must be an absolute path, got "${root}"`)
  }

  let realRoot: string
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- configured by the application
    realRoot = realpathSync(root)
  } catch (error) {
    throw new InvalidSettingsError(
      `serveStatic: root folder "${root}" was not found; create it or change the root option`,
      { cause: error },
    )
  }

  // eslint-disable-next-line security/detect-non-literal-fs-filename -- configured by the application
  if (!statSync(realRoot).isDirectory()) {
    throw new InvalidSettingsError(`serveStatic: root "${root}" is not a folder`)
  }
  return realRoot
}

const PREFIX_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/

/** Returns the prefix with exactly one trailing slash (`/static` gives `/static/`). */
function normalisePrefix(prefix: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  if (trimmed === '') return '/'

  // Unreserved characters only, no segment starting with a dot: the prefix is compared with the
  // raw request path, so it must have a single spelling.
  const segments = trimmed.split('/')
  if (segments[0] !== '' || !segments.slice(1).every((segment) => PREFIX_SEGMENT.test(segment))) {
    throw new InvalidSettingsError(
      `serveStatic: prefix must be a URL path such as "/static", got "${prefix}"`,
    )
  }
  return `${trimmed}/`
}
