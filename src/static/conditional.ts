/**
 * Returns true when a conditional GET or HEAD may get 304 Not Modified
 * (RFC 9110 section 13.2.2): `If-None-Match` decides when present, with the weak comparison;
 * `If-Modified-Since` is read only without it.
 *
 * @param etag the current entity tag, weak (`W/"…"`) or strong
 * @param lastModified the current modification time, or undefined when the resource has none
 */
export function isNotModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  etag: string,
  lastModified?: Date,
): boolean {
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true
    const current = opaqueTag(etag)
    return ifNoneMatch.split(',').some((tag) => opaqueTag(tag.trim()) === current)
  }

  if (ifModifiedSince !== undefined && lastModified !== undefined) {
    const since = Date.parse(ifModifiedSince)
    if (Number.isNaN(since)) return false
    // HTTP dates have whole seconds, so the file time is truncated before comparing.
    return Math.floor(lastModified.getTime() / 1000) * 1000 <= since
  }

  return false
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}
