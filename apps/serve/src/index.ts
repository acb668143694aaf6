export { type CliIO, type CliResult, runCli } from './cli';
export {
  defaultModelName,
  isHubId,
  type LimitsConfig,
  loadServeConfigFile,
  type ModelEntry,
  parseServeConfig,
  resolveModelSource,
  type ServeConfig,
  serveConfigSchema,
} from './config';
export type { RouteContext, ServedModel, ServeLimits } from './context';
export type {
  ChatTurn,
  EngineSequence,
  KVCacheChoice,
  SamplingOptions,
  ServeEngineV1,
  TokenDecoder,
  TokenLogprob,
  TokenStep,
} from './engine';
export { HttpError, type OpenAIErrorBody, type OpenAIErrorType } from './errors';
export { Metrics } from './metrics';
export { type LoadModelOptions, loadServedModel } from './models';
export { RuntimeEngine, type RuntimeEngineOptions } from './runtime-engine';
export {
  QueueFullError,
  Scheduler,
  SchedulerClosedError,
  type SchedulerTask,
  type TaskOutcome,
} from './scheduler';
export {
  chatRequestSchema,
  completionRequestSchema,
  embeddingRequestSchema,
  meldExtensionSchema,
  tokenizeRequestSchema,
} from './schemas';
export { defaultLimits, ServeServer, type ServeServerLimits, type ServeServerOptions } from './server';
export { type StartedServer, startServer } from './start';
