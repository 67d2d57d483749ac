/** The htmx request headers of the current request, available as `c.var.htmx`. */
export interface HtmxDetails {
  /** `HX-Request: true`: the request was made by htmx. */
  request: boolean
  /** `HX-Boosted: true`: a boosted link or form, which expects a whole page. */
  boosted: boolean
  /** `HX-History-Restore-Request: true`: htmx restores history and expects a whole page. */
  historyRestore: boolean
  /** `HX-Target`: id of the target element, if it has one. */
  target: string | undefined
  /** `HX-Trigger`: id of the element that triggered the request. */
  trigger: string | undefined
  /** `HX-Trigger-Name`: name of the element that triggered the request. */
  triggerName: string | undefined
  /** `HX-Current-URL`: the URL of the page in the browser. */
  currentUrl: string | undefined
  /** True for an htmx request that expects a fragment rather than a whole page. */
  wantsFragment: boolean
}
