export {
  type CalibrateOptions,
  calibrateHomer,
  calibrationPathFor,
  type HomerCalibration,
  homerCalibrationSchema,
  loadHomerCalibration,
  saveHomerCalibration,
} from './calibration';
export { ChunkKVCache } from './chunk-cache';
export { type HomerGenerateOptions, homerGenerate } from './generate';
export {
  type HomerInput,
  type HomerOptions,
  type HomerProgressEvent,
  type HomerResult,
  homerOptionsSchema,
  homerPrefill,
} from './homer';
export { homerLogLikelihood, logSoftmaxAt } from './log-likelihood';
export { activationBytes, chunkKVBytesPerToken, MemoryMeter, plainPrefillBytes } from './memory';
export { calibrationBias, LastQueryLogitCollector, rowsToKeep, significance } from './reduction';
export {
  defaultWarmupLayers,
  type HomerBlock,
  type HomerPlan,
  type HomerPlanInput,
  type LeafInput,
  makeLeaf,
  planHomer,
} from './schedule';
export { homerInputFromText, splitLastSentence, type TextInputOptions } from './text-input';
