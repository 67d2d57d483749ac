export {
  createApp,
  FastBlocks,
  PIPELINE,
  type CreateAppOptions,
  type FastBlocksEnv,
  type FastBlocksVariables,
  type ListenOptions,
  type PipelineLayer,
  type RenderOptions,
  type RunningServer,
} from './app/index.ts'
export type { Settings } from './config/types.ts'
export type { Session, FlashMessage } from './session/types.ts'
export type { HtmxDetails } from './htmx/types.ts'
export * from './errors/index.ts'
