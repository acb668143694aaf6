// GGML Q6_K: super-blocks of 256 values, { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } (210 bytes):
// 6-bit values (4 low bits in ql, 2 high bits in qh) minus 32, 16 sub-blocks with int8 scales.
// Reference: ggml/src/ggml-quants.c dequantize_row_q6_K.
import { f16ToF32 } from '../half';
import { checkBlocks } from './block-check';

export const q6_kBlockSize = 256;
export const q6_kBlockBytes = 210;

export function dequantizeQ6_K(
  bytes: Uint8Array,
  count: number,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const blocks = checkBlocks('q6_k', bytes, count, q6_kBlockSize, q6_kBlockBytes);
  for (let block = 0; block < blocks; block++) {
    const base = block * q6_kBlockBytes;
    const d = f16ToF32(bytes[base + 208]! | (bytes[base + 209]! << 8));
    let ql = base;
    let qh = base + 128;
    let sc = base + 192;
    let y = block * q6_kBlockSize;
    for (let n = 0; n < 256; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const high = bytes[qh + l]!;
        const q1 = ((bytes[ql + l]! & 0x0f) | ((high & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32]! & 0x0f) | (((high >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l]! >> 4) | (((high >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32]! >> 4) | (((high >> 6) & 3) << 4)) - 32;
        const s = (i: number) => (bytes[sc + i]! << 24) >> 24;
        out[y + l] = d * s(is) * q1;
        out[y + l + 32] = d * s(is + 2) * q2;
        out[y + l + 64] = d * s(is + 4) * q3;
        out[y + l + 96] = d * s(is + 6) * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  return out;
}
