import { extname } from 'node:path'

const CONTENT_TYPES = new Map<string, string>([
  ['.html', 'text/html; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.mjs', 'text/javascript; charset=utf-8'],
  ['.json', 'application/json; charset=utf-8'],
  ['.map', 'application/json; charset=utf-8'],
  ['.txt', 'text/plain; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.gif', 'image/gif'],
  ['.webp', 'image/webp'],
  ['.ico', 'image/x-icon'],
  ['.woff2', 'font/woff2'],
])

/**
 * Returns the Content-Type for a file name from its extension, or `application/octet-stream`
 * for an unknown one, so that a browser never renders an unknown file as HTML.
 */
export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES.get(extname(fileName).toLowerCase()) ?? 'application/octet-stream'
}
