export {
  formatPath,
  MergeConfigError,
  type ParseMergeConfigOptions,
  parseMergeConfig,
  readMergeConfig,
} from './config/parse';
export { evaluateGradient, evaluateSetting, type ParameterValue, resolveParameters } from './config/resolve';
export {
  type MergeConfig,
  type MergeConfigInput,
  mergeConfigSchema,
  type ParameterSetting,
  type ParameterSettings,
} from './config/schema';
export {
  ArchitectureMismatchError,
  MissingTensorError,
  TensorDTypeError,
  TensorShapeMismatchError,
  UnmatchedTensorError,
} from './errors';
export { type ApplyLoraOptions, type ApplyLoraResult, applyLoraAdapter } from './lora/apply';
export {
  type CombineLoraOptions,
  type CombineLoraResult,
  combineLoraAdapters,
  combineLoraOptionsSchema,
  type LoraCombination,
  loraCombinations,
} from './lora/combine';
export {
  type CombinationScore,
  type ContinualMergeOptions,
  type ContinualMergeResult,
  continualMerge,
  continualWeights,
  type EvaluateCombinationsOptions,
  evaluateAdapterCombinations,
  formatScoreTable,
} from './lora/continual';
export {
  type ExtractLoraOptions,
  type ExtractLoraResult,
  extractLora,
  extractLoraOptionsSchema,
} from './lora/extract';
export {
  type MergeModelOptions,
  type MergeModelResult,
  mergeModels,
  type OutputDType,
  tokenizerFiles,
} from './merge-model';
export { type MergeTensorsOptions, type MergeTensorsResult, mergeTensors } from './merge-tensors';
export {
  defineMergeMethod,
  type MergeContext,
  type MergeMethodDefinition,
  type MergeMethodV1,
  parameterNames,
  type RawMergeContext,
} from './method';
export type { RescaleMode, SparsificationMethod } from './methods/sparsify';
export {
  type TaskArithmeticVariant,
  taskArithmeticMethod,
  taskArithmeticVariants,
} from './methods/task-arithmetic';
export { type InputModel, openInputModel, resolveModelPath, type TensorSource } from './model-source';
export { type StagedFolder, stageOutputFolder, writeAdapterFolder } from './output-folder';
export {
  layerIndexOf,
  type MergePlan,
  type MergeTask,
  type PlanOptions,
  planMerge,
  type TaskInput,
  withLayerIndex,
} from './plan';
export type { MergeProgressCallback, MergeProgressEvent } from './progress';
export { hashString, randomKey, uniformAt } from './random';
export {
  builtinMergeMethods,
  createMergeMethodRegistry,
  defaultMergeMethods,
  type MergeMethodRegistry,
} from './registry';
export { ScratchPool } from './scratch-pool';
export { kthLargest, kthSmallest, quantile } from './select';
export {
  accumulateRows,
  float32Output,
  float32View,
  readRowsInto,
  rowChunks,
  rowGeometry,
  type TensorOutput,
  type TensorView,
  tensorView,
} from './tensor-view';
