export { type CachedModelOptions, withCallCache } from './cached-model';
export { type CachedCall, type CacheKeyRequest, CallCache, cacheKey, cacheRequestText } from './call-cache';
export { ConcurrencyLimit } from './concurrency-limit';
export { APICallError, LLMError, LLMValidationError, validationErrorFromZod } from './errors';
export { type GenerateTextResult, generateText } from './generate-text';
export type {
  ChatMessage,
  FinishReason,
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  Role,
  StreamPart,
  Usage,
} from './language-model';
export {
  createOpenAICompatible,
  type OpenAICompatibleOptions,
  type OpenAICompatibleProvider,
  type OpenAIEndpoint,
  openAICompatibleOptionsSchema,
} from './openai-compatible';
export { backoffDelay, type RetryEvent, type RetryPolicy, withRetries } from './retry';
export { readServerSentEvents } from './sse';
export {
  type CallSource,
  type ModelPrices,
  type ModelUsage,
  modelPricesSchema,
  parseModelPrices,
  UsageLedger,
  type UsageSummary,
} from './usage-ledger';
