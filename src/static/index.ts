export { serveStatic } from './serve-static.ts'
export type { ServeStaticOptions, StaticRejectionReason } from './serve-static.ts'
export {
  assetUrls,
  defaultClientScriptPath,
  frameworkAssets,
  htmxConfigFor,
  htmxScriptPath,
} from './framework-assets.ts'
export type { AssetUrls, FrameworkAssets, FrameworkAssetsOptions } from './framework-assets.ts'
export { contentTypeFor } from './mime.ts'
