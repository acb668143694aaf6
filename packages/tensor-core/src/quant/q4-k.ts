// GGML Q4_K: super-blocks of 256 values, { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } (144 bytes):
// 8 sub-blocks of 32 with 6-bit scale and min; x = d·sc·q - dmin·m.
// Reference: ggml/src/ggml-quants.c dequantize_row_q4_K and get_scale_min_k4.
import { f16ToF32 } from '../half';
import { checkBlocks } from './block-check';

export const q4_kBlockSize = 256;
export const q4_kBlockBytes = 144;

function scaleMin(j: number, scales: Uint8Array, base: number): [number, number] {
  if (j < 4) return [scales[base + j]! & 63, scales[base + j + 4]! & 63];
  return [
    (scales[base + j + 4]! & 0x0f) | ((scales[base + j - 4]! >> 6) << 4),
    (scales[base + j + 4]! >> 4) | ((scales[base + j]! >> 6) << 4),
  ];
}

export function dequantizeQ4_K(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const blocks = checkBlocks('q4_k', bytes, count, q4_kBlockSize, q4_kBlockBytes);
  for (let block = 0; block < blocks; block++) {
    const base = block * q4_kBlockBytes;
    const d = f16ToF32(bytes[base]! | (bytes[base + 1]! << 8));
    const min = f16ToF32(bytes[base + 2]! | (bytes[base + 3]! << 8));
    const scales = base + 4;
    let q = base + 16;
    let y = block * q4_kBlockSize;
    let is = 0;
    for (let j = 0; j < 256; j += 64) {
      const [sc1, m1] = scaleMin(is, bytes, scales);
      const [sc2, m2] = scaleMin(is + 1, bytes, scales);
      const d1 = d * sc1;
      const min1 = min * m1;
      const d2 = d * sc2;
      const min2 = min * m2;
      for (let l = 0; l < 32; l++) out[y++] = d1 * (bytes[q + l]! & 0x0f) - min1;
      for (let l = 0; l < 32; l++) out[y++] = d2 * (bytes[q + l]! >> 4) - min2;
      q += 32;
      is += 2;
    }
  }
  return out;
}
