// Decoding of every dtype to f32. Block-quantized decoders live one per file in this folder.
import type { DType } from '../dtype';
import { DTypeError } from '../errors';
import { decodeBf16, decodeF16 } from '../half';
import { dequantizeQ4_0 } from './q4-0';
import { dequantizeQ4_K } from './q4-k';
import { dequantizeQ6_K } from './q6-k';
import { dequantizeQ8_0 } from './q8-0';

export type Decoder = (bytes: Uint8Array, count: number, out: Float32Array) => Float32Array;

const decoders: Partial<Record<DType, Decoder>> = {
  f32: (bytes, count, out) => {
    out.set(new Float32Array(bytes.slice(0, count * 4).buffer));
    return out;
  },
  f16: (bytes, count, out) => decodeF16(bytes, count, out),
  bf16: (bytes, count, out) => decodeBf16(bytes, count, out),
  i8: (bytes, count, out) => {
    for (let i = 0; i < count; i++) out[i] = (bytes[i]! << 24) >> 24;
    return out;
  },
  q8_0: dequantizeQ8_0,
  q4_0: dequantizeQ4_0,
  q4_k: dequantizeQ4_K,
  q6_k: dequantizeQ6_K,
};

export function dequantize(
  dtype: DType,
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const decoder = decoders[dtype];
  if (!decoder) throw new DTypeError(dtype, 'no decoder for this dtype');
  return decoder(bytes, count, out);
}
