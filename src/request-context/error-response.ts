import type { Context } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import { FastBlocksError, toFastBlocksError } from '../errors/index.ts'

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'Internal server error',
  503: 'Service unavailable',
}

export interface ErrorResponseOptions {
  /** Show the stack trace and the messages of unexposed errors. Development only. */
  showDetails: boolean
  /**
   * Renders a custom page for an error, such as `templates/errors/404.html`. Returns
   * undefined to fall back to the built-in page. Errors thrown here are logged and
   * the built-in page is used.
   */
  renderPage?: (c: Context<FastBlocksEnv>, error: FastBlocksError) => Promise<string | undefined>
}

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** Returns the text a client may see for the error. */
export function publicMessage(error: FastBlocksError, showDetails: boolean): string {
  if (error.expose || showDetails) return error.message
  return STATUS_TEXT[error.status] ?? 'Error'
}

function detailsOf(error: FastBlocksError): string {
  const original = error.cause instanceof Error ? error.cause : error
  return original.stack ?? String(original)
}

function builtInPage(error: FastBlocksError, message: string, details: string | undefined): string {
  const title = `${error.status} ${STATUS_TEXT[error.status] ?? 'Error'}`
  const trace = details === undefined ? '' : `\n<pre>${escapeHtml(details)}</pre>`
  return (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">' +
    `<title>${escapeHtml(title)}</title></head>\n<body>\n<main>\n<h1>${escapeHtml(title)}</h1>\n` +
    `<p>${escapeHtml(message)}</p>\n<p><small>Error code ${error.code}</small></p>${trace}\n` +
    '</main>\n</body>\n</html>\n'
  )
}

/**
 * Builds the response for an error: a whole HTML page for a normal request, or for an htmx
 * request a small fragment that htmx does not swap into the page (`HX-Reswap: none`),
 * with an `fastblocks:error` event the page can show. Stack traces appear only when
 * `showDetails` is on.
 */
export async function errorResponse(
  c: Context<FastBlocksEnv>,
  thrown: unknown,
  options: ErrorResponseOptions,
): Promise<Response> {
  const error = toFastBlocksError(thrown)
  const message = publicMessage(error, options.showDetails)
  const headers = new Headers(error.headers)
  headers.set('Content-Type', 'text/html; charset=utf-8')
  headers.set('Cache-Control', 'no-store')

  // Without its own response, an htmx request would have its target replaced by an error
  // page, so the fragment tells htmx to swap nothing and raises an event instead.
  if (c.get('htmx')?.request ?? c.req.header('HX-Request') === 'true') {
    headers.set('HX-Reswap', 'none')
    headers.set(
      'HX-Trigger',
      JSON.stringify({
        'fastblocks:error': { status: error.status, code: error.code, message },
      }),
    )
    const fragment =
      `<div class="fastblocks-error" role="alert" data-status="${error.status}">` +
      `${escapeHtml(message)}</div>`
    return new Response(fragment, { status: error.status, headers })
  }

  let body: string | undefined
  if (options.renderPage) {
    try {
      body = await options.renderPage(c, error)
    } catch (pageError) {
      c.get('logger')?.error({ err: pageError }, 'error page template failed')
    }
  }
  const details = options.showDetails && error.status >= 500 ? detailsOf(error) : undefined
  body ??= builtInPage(error, message, details)
  return new Response(c.req.method === 'HEAD' ? null : body, { status: error.status, headers })
}
