import type { Context, HonoRequest, MiddlewareHandler, Next } from 'hono'
import type { IncomingMessage } from 'node:http'
import type { FastBlocksEnv } from '../app/env.ts'
import { nodeRequestOf } from '../request-context/node-request.ts'
import {
  BadRequestError,
  BodyTooLargeError,
  FastBlocksError,
  InvalidSettingsError,
} from '../errors/index.ts'

export interface BodyLimitOptions {
  /** Maximum request body in bytes. Default 1048576 (1 MiB). */
  maxBytes?: number
}

const DEFAULT_MAX_BYTES = 1_048_576

/** Returns the declared Content-Length, or undefined when it is absent or not one number. */
function declaredLength(headers: Headers): number | undefined {
  const value = headers.get('Content-Length')
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined
  return Number(value)
}

function rejectTooLarge(reason: string, maxBytes: number): never {
  // The unread rest of the body would otherwise be parsed as the next request on the connection.
  throw new BodyTooLargeError(maxBytes, {
    headers: { Connection: 'close' },
    details: { layer: 'limits', reason, limitBytes: maxBytes },
  })
}

/**
 * Reads the body stream to its end, or until it exceeds `maxBytes`. Returns the bytes, or
 * undefined when the body is larger. Throws BadRequestError when the stream fails, such as
 * when the client closes the connection before the body is complete.
 */
async function readAtMost(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Buffer<ArrayBuffer> | undefined> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        // Stop reading: the transport drains or closes the rest of the connection.
        void reader.cancel().catch(() => undefined)
        return undefined
      }
      chunks.push(value)
    }
  } catch (error) {
    throw new BadRequestError('Request body ended before it was complete', { cause: error })
  } finally {
    reader.releaseLock()
  }
  return Buffer.concat(chunks, size)
}

/** Returns a copy of the request that carries the buffered body, with a truthful length. */
function withBufferedBody(request: Request, body: Buffer<ArrayBuffer>): Request {
  const headers = new Headers(request.headers)
  headers.delete('Transfer-Encoding')
  headers.set('Content-Length', String(body.byteLength))
  return new Request(request.url, {
    method: request.method,
    headers,
    body: body.byteLength === 0 ? null : body,
    signal: request.signal,
  })
}

/**
 * Pipeline layer 2: the request body limit.
 *
 * A request whose `Content-Length` is over `maxBytes` gets 413 (BodyTooLargeError) before
 * any byte of the body is read. Any other request that has a body is read into memory, up to
 * `maxBytes`, before the inner layers run. Once it is over, the request gets 413 and the
 * handler never runs, whatever it would read. This covers chunked bodies, bodies of unknown
 * length, and bodies longer than their declared length. The 413 carries `Connection: close`.
 * Within the limit, `c.req.raw` is replaced by a request carrying the buffered bytes, so
 * `c.req.parseBody()`, `c.req.json()` and `c.req.text()` work as usual.
 *
 * GET and HEAD requests and requests with no body stream are not buffered. Every other
 * method is read even without `Content-Length` or `Transfer-Encoding`, because an HTTP/2
 * request can carry a body with neither header.
 *
 * A client that closes the connection mid-body makes the read fail: the request gets a
 * BadRequestError (400) and the buffered chunks are released. A client that stops sending
 * but keeps the connection open is cut off by the Node server's `requestTimeout`, see
 * `nodeServerLimits()`.
 *
 * Rejections are logged once through `c.var.logger` with the reason and the request id.
 *
 * NOTE: the whole body is held in memory, so `maxBytes` times the number of concurrent
 * uploads bounds the memory this layer uses. Raise it per route for large uploads only.
 *
 * @example
 * ```ts
 * app.use(bodyLimit()) // 1 MiB
 * app.use(bodyLimit({ maxBytes: settings.middleware.body_limit }))
 * ```
 */
export function bodyLimit(options: BodyLimitOptions = {}): MiddlewareHandler<FastBlocksEnv> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new InvalidSettingsError(
      `Invalid body limit: ${maxBytes} is not a whole number of bytes >= 0 (middleware.body_limit)`,
    )
  }

  return function bodyLimit(c, next) {
    const request = c.req.raw

    // A declared length over the limit: reject without reading a byte.
    const declared = declaredLength(request.headers)
    if (declared !== undefined && declared > maxBytes) {
      rejectTooLarge('declared length over the limit', maxBytes)
    }

    // GET and HEAD bodies never reach the application, so they need no limit here.
    const method = request.method
    if (method === 'GET' || method === 'HEAD') return next()
    const incoming = nodeRequestOf(c)
    if (incoming !== undefined && !incoming.readableDidRead) {
      return bufferNodeBody(c, incoming, maxBytes, next)
    }
    if (request.body === null) return next()
    return bufferBody(c, request.body, maxBytes, next)
  }
}

/**
 * Returns the body that `read` gives. Raises BodyTooLargeError when it gave none because the
 * body is over `maxBytes`, and marks a read failure with this layer for the log.
 */
async function readWithinLimit<T extends Buffer>(
  read: Promise<T | undefined>,
  maxBytes: number,
): Promise<T> {
  let body: T | undefined
  try {
    body = await read
  } catch (error) {
    if (error instanceof FastBlocksError) {
      Object.assign(error.details, { layer: 'limits', reason: 'body read failed' })
    }
    throw error
  }
  if (body === undefined) rejectTooLarge('body over the limit', maxBytes)
  return body
}

/**
 * Reads the body of the Node request up to `maxBytes` and, when its `Content-Length` is true,
 * hands it to `@hono/node-server` as `incoming.rawBody`, the field that server reads a
 * request body from when it is set. `c.req.raw` then stays the server's own Request, and
 * `text()`, `json()`, `formData()` and `body` all read the buffered bytes. Building a new
 * runtime Request instead cost more than the rest of a form post in profiles. Raises
 * BodyTooLargeError past the limit.
 */
async function bufferNodeBody(
  c: Context<FastBlocksEnv>,
  incoming: IncomingMessage & { rawBody?: Buffer },
  maxBytes: number,
  next: Next,
): Promise<void> {
  const body = await readWithinLimit(readNodeBodyAtMost(incoming, maxBytes), maxBytes)

  // A chunked body, or one whose declared length differs, gets a request whose headers state
  // the length that was read, as `bufferBody` gives.
  const truthful =
    incoming.headers['content-length'] === String(body.length) &&
    incoming.headers['transfer-encoding'] === undefined
  if (truthful) incoming.rawBody = body
  else c.req.raw = withBufferedBody(c.req.raw, body as Buffer<ArrayBuffer>)
  rejectMalformedBodies(c.req)
  await next()
}

/**
 * Reads a Node request body to its end, or until it exceeds `maxBytes`. Returns the bytes, or
 * undefined when the body is larger, and then stops reading: the server drains or closes the
 * rest. Raises BadRequestError when the client closes the connection before the body ends.
 */
function readNodeBodyAtMost(
  incoming: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onError)
      incoming.off('close', onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        incoming.pause()
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(new BadRequestError('Request body ended before it was complete', { cause: error }))
    }
    const onClose = () => {
      if (incoming.readableEnded) return
      cleanup()
      reject(new BadRequestError('Request body ended before it was complete'))
    }
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onError)
    incoming.on('close', onClose)
  })
}

/**
 * Reads the request body up to `maxBytes` and runs the inner layers with a request that
 * carries it. Raises BodyTooLargeError past the limit.
 */
async function bufferBody(
  c: Context<FastBlocksEnv>,
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  next: Next,
): Promise<void> {
  // The declared length may be false and a chunked body has none: count the bytes read.
  const body = await readWithinLimit(readAtMost(stream, maxBytes), maxBytes)

  c.req.raw = withBufferedBody(c.req.raw, body)
  rejectMalformedBodies(c.req)
  await next()
}

/**
 * Makes `parseBody()` and `json()` raise a 400 for a body that does not parse, such as a
 * multipart body without its boundary or invalid JSON. The parsers throw TypeError and
 * SyntaxError, which would otherwise end as a 500 in any handler that does not catch them.
 */
function rejectMalformedBodies(request: HonoRequest): void {
  // Bound functions, not arrow functions: on Node 20 storing a new closure into a field of
  // the request kept each request's objects alive into the old generation.
  request.parseBody = parseFormOrReject.bind(
    undefined,
    request.parseBody.bind(request),
  ) as typeof request.parseBody
  request.json = parseJsonOrReject.bind(
    undefined,
    request.json.bind(request),
  ) as typeof request.json
}

type ParseBody = HonoRequest['parseBody']

async function parseFormOrReject(
  parseBody: ParseBody,
  options?: Parameters<ParseBody>[0],
): Promise<Awaited<ReturnType<ParseBody>>> {
  try {
    return await parseBody(options)
  } catch (error) {
    throw new BadRequestError('Request body is not valid form data', {
      cause: error,
      details: { layer: 'limits', reason: 'malformed form body' },
    })
  }
}

async function parseJsonOrReject<T>(json: () => Promise<T>): Promise<T> {
  try {
    return await json()
  } catch (error) {
    throw new BadRequestError('Request body is not valid JSON', {
      cause: error,
      details: { layer: 'limits', reason: 'malformed JSON body' },
    })
  }
}
