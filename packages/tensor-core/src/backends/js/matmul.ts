// Matrix products on plain typed arrays. out[b, m, n] = a[b, m, k] * b[b, k, n] (or b[b, n, k] with transposeB).
// Allocation-free for the caller: `out` is passed in. Large products run the WebAssembly SIMD kernel.
import { dequantizeQ8_0 } from '../../quant/q8-0';
import { defaultSimdArena, simdEngineFor } from './wasm/simd-engine';

/** Products smaller than this many multiply-adds stay in TypeScript (packing would cost more). */
const SIMD_THRESHOLD = 16 * 16 * 16;

/**
 * Batched matmul. When `b` holds a single matrix (k * n values) it is shared by every batch entry.
 * transposeB: b is [n, k] (the layout of nn.Linear weights), computing a * b^T.
 */
export function matmulF32(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeB = false,
  batch = 1,
): Float32Array {
  const bStride = b.length === k * n ? 0 : k * n;
  const arena = m * n * k >= SIMD_THRESHOLD && k > 0 ? (simdEngineFor(a) ?? defaultSimdArena()) : undefined;
  for (let index = 0; index < batch; index++) {
    const aSlice = a.subarray(index * m * k, (index + 1) * m * k);
    const bSlice = b.subarray(index * bStride, index * bStride + k * n);
    const outSlice = out.subarray(index * m * n, (index + 1) * m * n);
    if (arena !== undefined) arena.matmul(outSlice, aSlice, bSlice, m, n, k, transposeB);
    else matmulF32Scalar(outSlice, aSlice, bSlice, m, n, k, transposeB);
  }
  return out;
}

/** One product in TypeScript: the reference for the SIMD path and the path for tiny sizes. */
export function matmulF32Scalar(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeB: boolean,
): Float32Array {
  if (transposeB) {
    for (let i = 0; i < m; i++) {
      const aRow = i * k;
      for (let j = 0; j < n; j++) {
        const bRow = j * k;
        let s0 = 0;
        let s1 = 0;
        let p = 0;
        for (; p + 1 < k; p += 2) {
          s0 += a[aRow + p] * b[bRow + p];
          s1 += a[aRow + p + 1] * b[bRow + p + 1];
        }
        if (p < k) s0 += a[aRow + p] * b[bRow + p];
        out[i * n + j] = s0 + s1;
      }
    }
    return out;
  }
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const outRow = i * n;
    for (let p = 0; p < k; p++) {
      const value = a[i * k + p];
      const bRow = p * n;
      for (let j = 0; j < n; j++) out[outRow + j] += value * b[bRow + j];
    }
  }
  return out;
}

/** Weight rows dequantized per step of the TypeScript q8_0 product (bounds its temporary memory). */
const Q8_ROWS_PER_STEP = 64;

/**
 * out[m, n] = a[m, k] dequant(weight)^T for a GGML q8_0 weight [n, k] (k % 32 == 0, 34-byte blocks):
 * the prompt-sized product of a quantized linear layer. When `bytes` lives in a SimdArena
 * (`arena.copyBytes`), a's rows are quantized per 32-block to int16 and an integer SIMD kernel runs (four
 * rows per weight-block load; error at most sum |w| * step / 2 per output, step = block max|a| / 32767);
 * otherwise 64 rows at a time are dequantized to f32 and
 * multiplied with `matmulF32`.
 */
export function matmulQ8_0(
  out: Float32Array,
  a: Float32Array,
  bytes: Uint8Array,
  m: number,
  n: number,
  k: number,
): Float32Array {
  const engine = simdEngineFor(bytes);
  if (engine !== undefined) {
    engine.matmulQ8_0(out, a, bytes, m, n, k);
    return out;
  }
  const rowBytes = (k / 32) * 34;
  const step = Math.min(n, Q8_ROWS_PER_STEP);
  const decoded = new Float32Array(step * k);
  const partial = new Float32Array(m * step);
  const input = a.subarray(0, m * k);
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    const weights = decoded.subarray(0, count * k);
    dequantizeQ8_0(bytes.subarray(start * rowBytes, (start + count) * rowBytes), count * k, weights);
    const product = partial.subarray(0, m * count);
    matmulF32(product, input, weights, m, count, k, true);
    for (let t = 0; t < m; t++) out.set(product.subarray(t * count, (t + 1) * count), t * n + start);
  }
  return out;
}
