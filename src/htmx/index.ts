export { htmx, readHtmxDetails, appendVary } from './middleware.ts'
export type { HtmxOptions } from './middleware.ts'
export { safeRedirectTarget, redirect } from './redirect.ts'
export type { RedirectOptions } from './redirect.ts'
export {
  hxLocation,
  hxPushUrl,
  hxRedirect,
  hxRefresh,
  hxReplaceUrl,
  hxReselect,
  hxRetarget,
  hxReswap,
  hxTrigger,
} from './response.ts'
export type { HxLocationOptions, HxTriggerOptions, HxTriggerTiming } from './response.ts'
export type { HtmxDetails } from './types.ts'
