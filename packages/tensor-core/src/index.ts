export { byteLength, type DType, type DTypeInfo, dtypeInfo, dtypes, isDType } from './dtype';
export { DTypeError, FormatError, MeldError, ShapeMismatchError, ValidationError } from './errors';
// formats: safetensors
export {
  isSafetensorsDType,
  type SafetensorsDType,
  safetensorsDTypeFor,
  safetensorsDTypes,
} from './formats/safetensors-dtypes';
export {
  maxSafetensorsHeaderBytes,
  openSafetensors,
  SafetensorsFile,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './formats/safetensors-reader';
export {
  openSafetensorsModel,
  planShards,
  readSafetensorsIndex,
  SafetensorsModel,
  SafetensorsShardWriter,
  type ShardedTensorInfo,
  type ShardedWriteOptions,
  type ShardedWriteResult,
  safetensorsIndexFileName,
  shardFileName,
  writeSafetensorsSharded,
} from './formats/safetensors-sharded';
export {
  type SafetensorsEntry,
  type SafetensorsInput,
  type SafetensorsWriteOptions,
  safetensorsEntry,
  writeSafetensors,
} from './formats/safetensors-writer';
export {
  bf16ToF32,
  decodeBf16,
  decodeF16,
  encodeBf16,
  encodeF16,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
} from './half';
export { dequantize } from './quant/dequantize';
export { decodeF8E4m3, decodeF8E5m2, f32ToF8E4m3, f32ToF8E5m2 } from './quant/f8';
export { Tensor, type TensorData } from './tensor';
