export { byteLength, type DType, type DTypeInfo, dtypeInfo, dtypes, isDType } from './dtype';
export { DTypeError, FormatError, MeldError, ShapeMismatchError, ValidationError } from './errors';
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
export { Tensor, type TensorData } from './tensor';
