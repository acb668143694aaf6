export { type ModelConfig, modelConfigSchema, type RopeScaling } from './config';
export type { AttentionEvent, AttentionObserverV1 } from './engine/attention-observer';
export type { ActiveAdapter, LoraModuleWeights, RuntimeLoraAdapter } from './engine/lora';
export { type RunLayersOptions, Transformer } from './engine/transformer';
export type { FinishReason, GenerateOptions, GenerationEvent } from './generation/generate';
export { Sampler, type SamplingOptions, XorShiftRandom } from './generation/sampler';
export { loadLlama2c } from './load/llama2c';
export {
  type ForwardOptions,
  type GenerationResult,
  type LogLikelihoodResult,
  Model,
  type ModelFormat,
} from './model';
export {
  readLlama2cTokenizer,
  SentencePieceBpeTokenizer,
  type SentencePieceVocabulary,
} from './tokenizer/sentencepiece-bpe';
export type { StreamingDecoder, Tokenizer } from './tokenizer/tokenizer';
