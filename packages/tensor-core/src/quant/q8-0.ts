// GGML Q8_0: blocks of 32 values, { f16 d; int8 qs[32] } (34 bytes); x = d · q.
// Reference: ggml/src/ggml-quants.c dequantize_row_q8_0 and quantize_row_q8_0_ref.
import { f16ToF32, f32ToF16 } from '../half';
import { checkBlocks, checkCount } from './block-check';

export const q8_0BlockSize = 32;
export const q8_0BlockBytes = 34;

export function dequantizeQ8_0(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const blocks = checkBlocks('q8_0', bytes, count, q8_0BlockSize, q8_0BlockBytes);
  for (let block = 0; block < blocks; block++) {
    const base = block * q8_0BlockBytes;
    const d = f16ToF32(bytes[base]! | (bytes[base + 1]! << 8));
    const outBase = block * q8_0BlockSize;
    for (let j = 0; j < 32; j++) out[outBase + j] = d * ((bytes[base + 2 + j]! << 24) >> 24);
  }
  return out;
}

/** C's roundf: halves away from zero. */
function roundAway(value: number): number {
  return value < 0 ? -Math.round(-value) : Math.round(value);
}

/** quantize_row_q8_0_ref: d = max|x| / 127 (stored as f16), q = roundf(x / d) computed with the f32 d. */
export function quantizeQ8_0(values: Float32Array, out?: Uint8Array): Uint8Array {
  const blocks = checkCount('q8_0', values.length, q8_0BlockSize);
  const result = out ?? new Uint8Array(blocks * q8_0BlockBytes);
  const scale = new Float32Array(2);
  for (let block = 0; block < blocks; block++) {
    const inBase = block * q8_0BlockSize;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[inBase + j]!));
    scale[0] = amax / 127;
    scale[1] = scale[0] !== 0 ? 1 / scale[0] : 0;
    const inverse = scale[1]!;
    const base = block * q8_0BlockBytes;
    const h = f32ToF16(scale[0]!);
    result[base] = h & 0xff;
    result[base + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      scale[0] = values[inBase + j]! * inverse;
      result[base + 2 + j] = roundAway(scale[0]!) & 0xff;
    }
  }
  return result;
}
