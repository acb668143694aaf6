// @meld/finetune: Platypus-style LoRA fine-tuning in TypeScript, and the data checks that go with it.

// autodiff
export { type AttentionShape, causalAttention } from './autodiff/attention';
export { type CrossEntropyResult, crossEntropy } from './autodiff/cross-entropy';
export { type RopeTable, rmsnorm, rope, ropeTable } from './autodiff/norm-rope';
export { add, dropout, embedding, linear, mul, scale, swiglu } from './autodiff/ops';
export { type FloatArray, Tape, Variable } from './autodiff/tape';
// data
export { type EncodedExample, encodeSegments, type TrainingTokenizer } from './data/encode';
export { type PackedRow, type PackOptions, packExamples } from './data/packing';
export {
  documentSeparator,
  parseJsonl,
  parsePlainText,
  parseRecord,
  type RecordFormat,
  readJsonlFile,
  readTrainingFile,
  recordKeyText,
  type TrainingRecord,
} from './data/records';
export {
  alpacaTemplate,
  chatmlTemplate,
  type PromptTemplate,
  plainTemplate,
  promptTemplates,
  type TextSegment,
} from './data/templates';
// data checks
export {
  checkData,
  type DataCheckOptions,
  type DataCheckProgressEvent,
  type DataCheckReport,
  dataCheckOptionsSchema,
  type Removal,
} from './data-check/data-check';
export { type EmbeddingFunction, endpointEmbedder, localEmbedder } from './data-check/embedders';
export { contaminationByNgram, dedupByNgram, ngrams, words } from './data-check/ngram';
export { type DataCheckFiles, dataCheckMarkdown, writeDataCheckReport } from './data-check/report';
export { contaminationByCosine, dedupByCosine, type Match, normalize } from './data-check/similarity';
// LoRA
export {
  defaultTargetModules,
  type LoraConfig,
  type LoraConfigInput,
  loraConfigSchema,
  loraScaling,
  matchesTarget,
  parseLoraConfig,
  selectTargetModules,
} from './lora/lora-config';
export {
  createLoraParameters,
  type LoraModule,
  type LoraParameters,
  trainableVariables,
} from './lora/lora-parameters';
export { type AdapterMetadata, loadPeftFactors, toPeftAdapter } from './lora/peft-export';
// model
export { baseWeightsFromModel } from './model/from-runtime';
export {
  type BaseWeights,
  expectedWeightShapes,
  type LlamaConfig,
  linearModuleNames,
  llamaConfigSchema,
  validateBaseWeights,
  type WeightTensor,
} from './model/llama-config';
export { trainingTokenizerFromModel } from './model/tokenizer-from-runtime';
export { type ForwardOptions, FrozenModel, type TokenBatch, trainForward } from './model/train-forward';
// optimisation
export { AdamW, type AdamWOptions, type AdamWState, clipGradNorm } from './optim/adamw';
export { learningRateFactor, type ScheduleName, type ScheduleOptions, scheduleNames } from './optim/schedule';
export { SeededRandom } from './random';
// training
export {
  checkpointFolder,
  latestCheckpoint,
  loadCheckpoint,
  optimizerFileName,
  saveCheckpoint,
  type TrainerState,
  trainerStateFileName,
} from './train/checkpoint';
export { type EvaluationResult, evaluateRows } from './train/evaluate';
export { type LossPoint, lossCurveSvg } from './train/loss-curve';
export {
  type FinetuneOptions,
  type FinetuneOptionsInput,
  finetuneOptionsSchema,
  parseFinetuneOptions,
} from './train/options';
export {
  type FinetuneInput,
  type FinetuneProgressEvent,
  type FinetuneResult,
  finetune,
} from './train/trainer';
