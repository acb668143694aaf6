export { kvBytesPerToken, type ModelConfig, modelConfigSchema, type RopeScaling } from './config';
export { type ConvertOptions, convertModel } from './convert/convert';
export { type GgufOutputDType, writeGgufModel } from './convert/write-gguf';
export { type HfDType, type WriteHfOptions, writeHfFolder } from './convert/write-hf';
export type { AttentionEvent, AttentionObserverV1 } from './engine/attention-observer';
export type { ActiveAdapter, RuntimeLoraAdapter, RuntimeLoraModule } from './engine/lora';
export { type RunLayersOptions, Transformer } from './engine/transformer';
export type { TensorSource } from './engine/weights';
export {
  type FinishReason,
  type GenerateOptions,
  type GenerationEvent,
  generateOptionsSchema,
} from './generation/generate';
export { Sampler, type SamplingOptions, XorShiftRandom } from './generation/sampler';
export { loadGguf } from './load/gguf';
export { loadHfFolder, readHfTokenizer } from './load/hf-folder';
export {
  HubOfflineError,
  type HubOptions,
  type HubProgressEvent,
  parseHubSource,
  resolveHubModel,
} from './load/hub-download';
export { loadLlama2c } from './load/llama2c';
export { findLlama2cTokenizer, type LoadModelOptions, loadModel } from './load/load-model';
export { LocalLanguageModel, type LocalLanguageModelOptions } from './local-language-model';
export { loadLoraAdapter, mergeAdapters, runtimeAdapterFromPeft } from './lora-adapters';
export {
  type ForwardOptions,
  type GenerationResult,
  type LogLikelihoodResult,
  Model,
  type ModelFormat,
} from './model';
export { type PerplexityOptions, type PerplexityResult, perplexity, perplexityOfTokens } from './perplexity';
export { HuggingFaceTokenizer } from './tokenizer/huggingface-tokenizer';
export {
  readLlama2cTokenizer,
  SentencePieceBpeTokenizer,
  type SentencePieceVocabulary,
} from './tokenizer/sentencepiece-bpe';
export type { StreamingDecoder, Tokenizer } from './tokenizer/tokenizer';
