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
export { hashString, randomKey, uniformAt } from './random';
export {
  builtinMergeMethods,
  createMergeMethodRegistry,
  defaultMergeMethods,
  type MergeMethodRegistry,
} from './registry';
export { kthLargest, kthSmallest, quantile } from './select';
export {
  float32Output,
  float32View,
  rowChunks,
  rowGeometry,
  type TensorOutput,
  type TensorView,
  tensorView,
} from './tensor-view';
