import type { Context, HonoRequest, MiddlewareHandler, Next } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
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
    if (method === 'GET' || method === 'HEAD' || request.body === null) return next()
    return bufferBody(c, request.body, maxBytes, next)
  }
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
  let body: Buffer<ArrayBuffer> | undefined
  try {
    body = await readAtMost(stream, maxBytes)
  } catch (error) {
    if (error instanceof FastBlocksError) {
      Object.assign(error.details, { layer: 'limits', reason: 'body read failed' })
    }
    throw error
  }
  if (body === undefined) rejectTooLarge('body over the limit', maxBytes)

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
  const parseBody = request.parseBody.bind(request)
  const json = request.json.bind(request)

  request.parseBody = (async (options?: Parameters<typeof parseBody>[0]) => {
    try {
      return await parseBody(options)
    } catch (error) {
      throw new BadRequestError('Request body is not valid form data', {
        cause: error,
        details: { layer: 'limits', reason: 'malformed form body' },
      })
    }
  }) as typeof request.parseBody

  request.json = (async () => {
    try {
      return await json()
    } catch (error) {
      throw new BadRequestError('Request body is not valid JSON', {
        cause: error,
        details: { layer: 'limits', reason: 'malformed JSON body' },
      })
    }
  }) as typeof request.json
}
