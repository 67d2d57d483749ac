import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MiddlewareHandler } from 'hono'
import type { FastBlocksEnv } from '../app/env.ts'
import { InvalidSettingsError } from '../errors/index.ts'
import { isNotModified } from './conditional.ts'

export interface FrameworkAssetsOptions {
  /** htmx major version to serve: 4 (`htmx.org`) or 2 (`htmx2`, an alias of `htmx.org@2`). */
  htmxVersion: 2 | 4
  /** URL path the scripts are served under. Default `/_fastblocks`. */
  prefix?: string
  /** Path of the FastBlocks client script. Default `client/fastblocks.js` of this package. */
  clientScript?: string
}

/** Versioned URLs of the framework's scripts, for `<script src>` in templates. */
export interface AssetUrls {
  /** `<prefix>/htmx.js?v=<hash>` */
  htmx: string
  /** `<prefix>/fastblocks.js?v=<hash>` */
  fastblocks: string
}

/** The framework's client scripts, ready to mount and to reference from templates. */
export interface FrameworkAssets {
  /** Serves `<prefix>/htmx.js` and `<prefix>/fastblocks.js`; passes other requests on. */
  middleware: MiddlewareHandler<FastBlocksEnv>
  /** Returns the versioned URLs of the two scripts. */
  assetUrls(): AssetUrls
  /** Content of `<meta name="htmx-config">` for the configured htmx version, as JSON. */
  htmxConfig: string
}

interface Asset {
  body: Uint8Array<ArrayBuffer>
  /** First 16 hex digits of the SHA-256 of the body, used in `?v=` and in the ETag. */
  version: string
  etag: string
}

const DEFAULT_PREFIX = '/_fastblocks'
const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable'
// Without the current version in the URL the browser revalidates each time, with the ETag.
const REVALIDATE_CACHE = 'no-cache'

// Files are read once per process and path; a change on disk needs a restart.
const loadedAssets = new Map<string, Asset>()

/**
 * Loads the framework's own client scripts into memory and returns a middleware that serves
 * them: `<prefix>/htmx.js` (the minified build of the configured htmx version) and
 * `<prefix>/fastblocks.js`. Both files are read when the factory runs.
 *
 * A request whose `?v=` matches the file's content hash gets
 * `Cache-Control: public, max-age=31536000, immutable`. Any other request gets `no-cache`, so a
 * URL with an old hash is never cached for a year. Responses carry a strong ETag and 304 is sent on
 * `If-None-Match`. Other paths and methods go to the next handler.
 *
 * The result also carries the versioned URLs and the `htmx-config` JSON (see
 * {@link htmxConfigFor}) for the page head.
 *
 * @throws InvalidSettingsError at set-up when a script cannot be read.
 *
 * @example
 * ```ts
 * const assets = frameworkAssets({ htmxVersion: settings.app.htmx_version })
 * app.use('/_fastblocks/*', assets.middleware)
 * const { htmx, fastblocks } = assets.assetUrls()
 * ```
 */
export function frameworkAssets(options: FrameworkAssetsOptions): FrameworkAssets {
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const assets = new Map<string, Asset>([
    [`${prefix}/htmx.js`, loadAsset(htmxScriptPath(options.htmxVersion))],
    [`${prefix}/fastblocks.js`, loadAsset(options.clientScript ?? defaultClientScriptPath())],
  ])

  const middleware: MiddlewareHandler<FastBlocksEnv> = async function serveFrameworkAsset(c, next) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next()

    const asset = assets.get(c.req.path)
    if (asset === undefined) return next()

    const headers = {
      ETag: asset.etag,
      'Cache-Control': c.req.query('v') === asset.version ? IMMUTABLE_CACHE : REVALIDATE_CACHE,
      'X-Content-Type-Options': 'nosniff',
    }
    if (isNotModified(c.req.header('If-None-Match'), undefined, asset.etag)) {
      return c.body(null, 304, headers)
    }

    const bodyHeaders = {
      ...headers,
      'Content-Type': 'text/javascript; charset=utf-8',
      'Content-Length': String(asset.body.byteLength),
    }
    if (c.req.method === 'HEAD') return c.body(null, 200, bodyHeaders)
    return c.body(asset.body, 200, bodyHeaders)
  }

  const urls = assetUrls(options)
  return {
    middleware,
    assetUrls: () => ({ ...urls }),
    htmxConfig: htmxConfigFor(options.htmxVersion),
  }
}

/**
 * Returns the versioned URLs of the scripts that {@link frameworkAssets} serves with the same
 * options, reading the files on first use.
 *
 * @example
 * ```ts
 * const urls = assetUrls({ htmxVersion: 4 })
 * // urls.htmx === '/_fastblocks/htmx.js?v=3f2a…'
 * ```
 */
export function assetUrls(options: FrameworkAssetsOptions): AssetUrls {
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const htmx = loadAsset(htmxScriptPath(options.htmxVersion))
  const fastblocks = loadAsset(options.clientScript ?? defaultClientScriptPath())
  return {
    htmx: `${prefix}/htmx.js?v=${htmx.version}`,
    fastblocks: `${prefix}/fastblocks.js?v=${fastblocks.version}`,
  }
}

/**
 * Returns the JSON for `<meta name="htmx-config">` that turns off the htmx features a strict
 * Content Security Policy would block or that widen what a swapped response can do.
 *
 * htmx 2:
 * - no `eval` (`hx-on`, event filters) and no `<script>` run from swapped content,
 * - no inline indicator `<style>`, so the page supplies `.htmx-indicator` rules,
 * - no page snapshots in sessionStorage,
 * - requests to the page's own origin only,
 * - history restore requests without `HX-Request`, so they get a whole page.
 *
 * htmx 4: requests in `same-origin` mode, which is its default, stated so that a changed
 * default does not widen it.
 */
export function htmxConfigFor(version: 2 | 4): string {
  if (version === 2) {
    return JSON.stringify({
      allowEval: false,
      allowScriptTags: false,
      includeIndicatorStyles: false,
      historyCacheSize: 0,
      selfRequestsOnly: true,
      historyRestoreAsHxRequest: false,
    })
  }
  return JSON.stringify({ mode: 'same-origin' })
}

/** Returns the path of the minified htmx build of the given major version. */
export function htmxScriptPath(version: 2 | 4): string {
  const packageName = version === 2 ? 'htmx2' : 'htmx.org'
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve(`${packageName}/package.json`)), 'dist', 'htmx.min.js')
}

/**
 * Returns the path of `client/fastblocks.js` of this package. This module sits two folders
 * below the package root both as source (`src/static/`) and as build output (`dist/static/`).
 */
export function defaultClientScriptPath(): string {
  return fileURLToPath(new URL('../../client/fastblocks.js', import.meta.url))
}

function loadAsset(path: string): Asset {
  const loaded = loadedAssets.get(path)
  if (loaded !== undefined) return loaded

  let body: Uint8Array<ArrayBuffer>
  try {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a package file, not a request path
    body = readFileSync(path)
  } catch (error) {
    throw new InvalidSettingsError(
      `frameworkAssets: could not read the client script "${path}"; reinstall the package ` +
        'or set the clientScript option',
      { cause: error },
    )
  }

  const version = createHash('sha256').update(body).digest('hex').slice(0, 16)
  const asset = { body, version, etag: `"${version}"` }
  loadedAssets.set(path, asset)
  return asset
}
