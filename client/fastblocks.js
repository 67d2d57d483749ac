/*
 * FastBlocks browser client: sends the CSRF token with every htmx request that can change
 * state, for htmx 2 and htmx 4. Plain script with no build step, no eval and no inline
 * styles, so it runs under a CSP without 'unsafe-inline' or 'unsafe-eval'. Load it with
 * `<script src="..." nonce="...">` after htmx.
 *
 * Where the token lives: `<meta name="csrf-token" content="...">` in `<head>`. The server
 * renders it on every full page.
 *
 * Sending: before htmx sends a request whose method is not GET, HEAD, OPTIONS or TRACE to
 * this page's origin, the script sets the `X-CSRF-Token` request header from the meta
 * content. It reads the meta on every request, so it always sends the newest token. It
 * overwrites a token that an `hx-headers` attribute set, because such a copy goes stale.
 * A request to another origin never gets the token.
 *   htmx 2: event `htmx:configRequest`, with `detail.verb`, `detail.path`, `detail.headers`.
 *   htmx 4: event `htmx:config:request`, with `detail.ctx.request.method`, `.action` and
 *   `.headers` (a plain object that htmx passes to fetch()).
 *
 * Refreshing: the server sends a fresh token in the `X-CSRF-Token` response header on
 * htmx responses and on HTML pages of sessions that have tokens, error responses to a
 * stale token included. The script copies it into the meta content as soon as the
 * response arrives, before the swap. This keeps the token current after a boosted
 * navigation, because htmx swaps the body's content but never `<head>` or the attributes
 * of `<html>`/`<body>`. It also keeps it current after a login regenerates the session.
 *   htmx 2: `htmx:beforeOnLoad` and `htmx:afterRequest` (`detail.xhr.getResponseHeader`),
 *   and `htmx:historyCacheMissLoad` for pages that history restores from the server.
 *   htmx 4: `htmx:before:response` and `htmx:after:request`
 *   (`detail.ctx.response.headers.get`). History restores go through the same events.
 *   htmx 4 names these events with `htmx.config.metaCharacter` instead of `:` when that is
 *   set, so the script listens under that name too.
 *
 * Forms: hidden `<input name="csrf_token">` fields in swapped content are left as the
 * server rendered them, because they already carry a fresh token. A request with the
 * header is decided by the header alone.
 *
 * `window.FastBlocks.csrfToken()` returns the current token for scripts that call fetch()
 * themselves.
 */
;(() => {
  'use strict'

  const TOKEN_HEADER = 'X-CSRF-Token'
  const META_SELECTOR = 'meta[name="csrf-token"]'
  const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE']

  const readToken = () => {
    const meta = document.querySelector(META_SELECTOR)
    const token = meta ? meta.getAttribute('content') : null
    return token || undefined
  }

  const storeToken = (token) => {
    let meta = document.querySelector(META_SELECTOR)
    if (!meta) {
      meta = document.createElement('meta')
      meta.setAttribute('name', 'csrf-token')
      document.head.appendChild(meta)
    }
    meta.setAttribute('content', token)
  }

  const isSameOrigin = (url) => {
    try {
      return new URL(url, document.baseURI).origin === window.location.origin
    } catch {
      return false
    }
  }

  /** Sets the token header on `headers` for an unsafe request to this origin. */
  const addTokenHeader = (method, url, headers) => {
    if (!headers || SAFE_METHODS.includes(String(method).toUpperCase())) return
    if (!isSameOrigin(url == null || url === '' ? window.location.href : url)) return
    const token = readToken()
    if (token) headers[TOKEN_HEADER] = token
  }

  const storeTokenFromHeader = (value) => {
    if (value) storeToken(value)
  }

  /**
   * Shows the message of an error fragment. For an error the server sends `HX-Reswap: none`
   * and names the error in the `fastblocks:error` entry of `HX-Trigger`. The message goes as
   * text into the page's `[data-fastblocks-errors]` element, which is created at the top of
   * the body when the page has none.
   */
  const showError = (status, triggerHeader) => {
    if (status < 400 || !triggerHeader) return
    let detail
    try {
      detail = JSON.parse(triggerHeader)['fastblocks:error']
    } catch {
      return
    }
    if (!detail || typeof detail.message !== 'string') return
    let region = document.querySelector('[data-fastblocks-errors]')
    if (!region) {
      region = document.createElement('div')
      region.setAttribute('data-fastblocks-errors', '')
      region.setAttribute('role', 'alert')
      region.className = 'fastblocks-error'
      document.body.prepend(region)
    }
    region.textContent = detail.message
  }

  /** Listens under the htmx 4 event name and, when htmx sets one, its metaCharacter variant. */
  const onHtmx4 = (name, listener) => {
    document.addEventListener(name, listener)
    const metaCharacter = window.htmx && window.htmx.config && window.htmx.config.metaCharacter
    if (metaCharacter && metaCharacter !== ':') {
      document.addEventListener(name.replace(/:/g, metaCharacter), listener)
    }
  }

  // htmx 2 (XMLHttpRequest).
  document.addEventListener('htmx:configRequest', (event) => {
    const detail = event.detail
    if (detail) addTokenHeader(detail.verb, detail.path, detail.headers)
  })
  const fromXhr = (event) => {
    const xhr = event.detail && event.detail.xhr
    if (xhr && xhr.readyState >= 2) storeTokenFromHeader(xhr.getResponseHeader(TOKEN_HEADER))
  }
  document.addEventListener('htmx:beforeOnLoad', fromXhr)
  document.addEventListener('htmx:afterRequest', fromXhr)
  document.addEventListener('htmx:afterRequest', (event) => {
    const xhr = event.detail && event.detail.xhr
    if (xhr && xhr.readyState === 4) showError(xhr.status, xhr.getResponseHeader('HX-Trigger'))
  })
  document.addEventListener('htmx:historyCacheMissLoad', fromXhr)

  // htmx 4 (fetch).
  onHtmx4('htmx:config:request', (event) => {
    const request = event.detail && event.detail.ctx && event.detail.ctx.request
    if (request) addTokenHeader(request.method, request.action, request.headers)
  })
  const fromFetch = (event) => {
    const response = event.detail && event.detail.ctx && event.detail.ctx.response
    if (response && response.headers) storeTokenFromHeader(response.headers.get(TOKEN_HEADER))
  }
  onHtmx4('htmx:before:response', fromFetch)
  onHtmx4('htmx:after:request', fromFetch)
  onHtmx4('htmx:after:request', (event) => {
    const response = event.detail && event.detail.ctx && event.detail.ctx.response
    if (response && response.headers) {
      showError(response.status, response.headers.get('HX-Trigger'))
    }
  })

  window.FastBlocks = Object.freeze({ csrfToken: readToken })
})()
