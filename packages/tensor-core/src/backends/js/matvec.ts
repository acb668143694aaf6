// Matrix-vector products on plain typed arrays: the hot loop of token-by-token decoding.
// Allocation-free: the caller passes `out`. Weights are row-major [rows, cols].
import { f16ToF32Table } from '../../half';
import { simdEngineFor } from './wasm/simd-engine';

/**
 * out[r] = sum_c weight[r * cols + c] * x[c] for r in [0, rows).
 * When `weight` was allocated from a SimdArena (see `createSimdArena`), the WebAssembly SIMD kernel runs
 * (multi-threaded when the arena has workers); otherwise an unrolled TypeScript loop.
 */
export function matvecF32(
  out: Float32Array,
  weight: Float32Array,
  x: Float32Array,
  rows: number,
  cols: number,
): Float32Array {
  const engine = simdEngineFor(weight);
  if (engine !== undefined) {
    engine.matvec(out, weight, x, rows, cols);
    return out;
  }
  return matvecF32Scalar(out, weight, x, rows, cols);
}

/** The TypeScript loop (two rows at a time, four accumulators each); the reference for the SIMD path. */
export function matvecF32Scalar(
  out: Float32Array,
  weight: Float32Array,
  x: Float32Array,
  rows: number,
  cols: number,
): Float32Array {
  const tail = cols & ~3;
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    const o0 = r * cols;
    const o1 = o0 + cols;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    let c = 0;
    for (; c < tail; c += 4) {
      const x0 = x[c];
      const x1 = x[c + 1];
      const x2 = x[c + 2];
      const x3 = x[c + 3];
      a0 += weight[o0 + c] * x0;
      a1 += weight[o0 + c + 1] * x1;
      a2 += weight[o0 + c + 2] * x2;
      a3 += weight[o0 + c + 3] * x3;
      b0 += weight[o1 + c] * x0;
      b1 += weight[o1 + c + 1] * x1;
      b2 += weight[o1 + c + 2] * x2;
      b3 += weight[o1 + c + 3] * x3;
    }
    for (; c < cols; c++) {
      a0 += weight[o0 + c] * x[c];
      b0 += weight[o1 + c] * x[c];
    }
    out[r] = a0 + a1 + (a2 + a3);
    out[r + 1] = b0 + b1 + (b2 + b3);
  }
  for (; r < rows; r++) {
    const o0 = r * cols;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let c = 0;
    for (; c < tail; c += 4) {
      a0 += weight[o0 + c] * x[c];
      a1 += weight[o0 + c + 1] * x[c + 1];
      a2 += weight[o0 + c + 2] * x[c + 2];
      a3 += weight[o0 + c + 3] * x[c + 3];
    }
    for (; c < cols; c++) a0 += weight[o0 + c] * x[c];
    out[r] = a0 + a1 + (a2 + a3);
  }
  return out;
}

/** Bytes of one q8_0 block: an f16 scale d, then 32 int8 values; value = d * q. */
export const Q8_0_BLOCK_BYTES = 34;

/**
 * out[r] = sum_c dequant(weight)[r, c] * x[c], reading q8_0 blocks directly (no dequantized copy).
 * `bytes` holds rows * cols / 32 blocks, row-major; `cols` must be a multiple of 32. When `bytes` was
 * allocated from a SimdArena (`arena.copyBytes`), the WebAssembly SIMD kernel runs (threaded with the arena).
 */
export function matvecQ8_0(
  out: Float32Array,
  bytes: Uint8Array,
  x: Float32Array,
  rows: number,
  cols: number,
): Float32Array {
  const engine = simdEngineFor(bytes);
  if (engine !== undefined) {
    engine.matvecQ8_0(out, bytes, x, rows, cols);
    return out;
  }
  return matvecQ8_0Scalar(out, bytes, x, rows, cols);
}

/** The TypeScript q8_0 loop: the reference for the SIMD path. */
export function matvecQ8_0Scalar(
  out: Float32Array,
  bytes: Uint8Array,
  x: Float32Array,
  rows: number,
  cols: number,
): Float32Array {
  const table = f16ToF32Table(); // a q8_0 block scale costs one load
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = cols >> 5;
  const rowBytes = blocks * Q8_0_BLOCK_BYTES;
  for (let r = 0; r < rows; r++) {
    let total = 0;
    let offset = r * rowBytes;
    for (let b = 0; b < blocks; b++) {
      const scale = table[bytes[offset] | (bytes[offset + 1] << 8)];
      const base = offset + 2;
      const xb = b << 5;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = 0; i < 32; i += 4) {
        a0 += q[base + i] * x[xb + i];
        a1 += q[base + i + 1] * x[xb + i + 1];
        a2 += q[base + i + 2] * x[xb + i + 2];
        a3 += q[base + i + 3] * x[xb + i + 3];
      }
      total += scale * (a0 + a1 + (a2 + a3));
      offset += Q8_0_BLOCK_BYTES;
    }
    out[r] = total;
  }
  return out;
}
