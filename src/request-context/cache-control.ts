/**
 * Marks a response as meant for one visitor: `Cache-Control: private, no-cache`, unless it
 * already carries a bare `private` or a `no-store` directive. A qualified `private="Field"`
 * keeps only the named fields out of shared caches, so it does not count.
 */
export function keepFromSharedCaches(headers: Headers): void {
  const cacheControl = headers.get('Cache-Control')
  if (cacheControl !== null && hasDirective(cacheControl)) return
  headers.set('Cache-Control', 'private, no-cache')
}

function hasDirective(cacheControl: string): boolean {
  for (const part of cacheControl.split(',')) {
    const directive = part.trim().toLowerCase()
    if (directive === 'private' || directive === 'no-store' || directive.startsWith('no-store=')) {
      return true
    }
  }
  return false
}
