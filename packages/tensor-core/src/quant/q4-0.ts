// GGML Q4_0: blocks of 32 values, { f16 d; u8 qs[16] } (18 bytes). Byte j holds value j in its low
// nibble and value j + 16 in its high nibble; x = d · (q - 8).
// Reference: ggml/src/ggml-quants.c dequantize_row_q4_0 and quantize_row_q4_0_ref.
import { f16ToF32, f32ToF16 } from '../half';
import { checkBlocks, checkCount } from './block-check';

export const q4_0BlockSize = 32;
export const q4_0BlockBytes = 18;

export function dequantizeQ4_0(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const blocks = checkBlocks('q4_0', bytes, count, q4_0BlockSize, q4_0BlockBytes);
  for (let block = 0; block < blocks; block++) {
    const base = block * q4_0BlockBytes;
    const d = f16ToF32(bytes[base]! | (bytes[base + 1]! << 8));
    const outBase = block * q4_0BlockSize;
    for (let j = 0; j < 16; j++) {
      const q = bytes[base + 2 + j]!;
      out[outBase + j] = ((q & 0x0f) - 8) * d;
      out[outBase + j + 16] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}

/** quantize_row_q4_0_ref: d = (signed value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5)). */
export function quantizeQ4_0(values: Float32Array, out?: Uint8Array): Uint8Array {
  const blocks = checkCount('q4_0', values.length, q4_0BlockSize);
  const result = out ?? new Uint8Array(blocks * q4_0BlockBytes);
  const f = new Float32Array(3);
  for (let block = 0; block < blocks; block++) {
    const inBase = block * q4_0BlockSize;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = values[inBase + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    f[0] = max / -8;
    f[1] = f[0] !== 0 ? 1 / f[0] : 0;
    const base = block * q4_0BlockBytes;
    const h = f32ToF16(f[0]!);
    result[base] = h & 0xff;
    result[base + 1] = h >> 8;
    for (let j = 0; j < 16; j++) {
      f[2] = values[inBase + j]! * f[1]! + 8.5;
      const low = Math.min(15, Math.trunc(f[2]!));
      f[2] = values[inBase + j + 16]! * f[1]! + 8.5;
      const high = Math.min(15, Math.trunc(f[2]!));
      result[base + 2 + j] = low | (high << 4);
    }
  }
  return result;
}
