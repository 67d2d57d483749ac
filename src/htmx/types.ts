/** The htmx request headers of the current request, available as `c.var.htmx`. */
export interface HtmxDetails {
  /** `HX-Request: true`: the request was made by htmx. */
  request: boolean
  /** `HX-Boosted: true`: a boosted link or form, which expects a whole page. */
  boosted: boolean
  /** `HX-History-Restore-Request: true`: htmx restores history and expects a whole page. */
  historyRestore: boolean
  /** `HX-Target`: id of the target element, if it has one (htmx 4 sends `tag#id`). */
  target: string | undefined
  /** Id of the element that triggered the request: `HX-Trigger` (htmx 2), `HX-Source` (htmx 4). */
  trigger: string | undefined
  /** `HX-Trigger-Name`: name of the element that triggered the request (htmx 2 only). */
  triggerName: string | undefined
  /** `HX-Current-URL`: the URL of the page in the browser. */
  currentUrl: string | undefined
  /**
   * True for an htmx request that expects a fragment rather than a whole page: not boosted, not
   * a history restore, and not `HX-Request-Type: full` (htmx 4).
   */
  wantsFragment: boolean
}
