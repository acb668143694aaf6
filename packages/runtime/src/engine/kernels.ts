// The engine's numeric kernels. Matrix products come from @meld/tensor-core (WebAssembly SIMD when
// the weight lives in a SimdArena); the small element-wise loops stay here. All are allocation-free:
// callers pass output buffers.
import { matmulF32 as coreMatmulF32, dequantize, matvecF32, matvecQ8_0 } from '@meld/tensor-core';

/** out[t, o] = sum_i x[t, i] * w[o, i] for t < rows; w is [outFeatures, inFeatures] f32. */
export function matmulF32(
  out: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rows: number,
  inFeatures: number,
  outFeatures: number,
): void {
  if (rows === 1) {
    matvecF32(out, w, x, outFeatures, inFeatures);
    return;
  }
  coreMatmulF32(out, x.subarray(0, rows * inFeatures), w, rows, outFeatures, inFeatures, true);
}

/** Weight rows decoded per step of the multi-token q8_0 product (bounds its scratch memory). */
export const Q8_CHUNK_ROWS = 256;

/**
 * Same with w in GGML q8_0 blocks (per 32 values: f16 scale, 32 int8). One row: the blocks are read
 * in place. Several rows (prefill): `Q8_CHUNK_ROWS` weight rows at a time are decoded into `scratch`
 * (at least Q8_CHUNK_ROWS * (inFeatures + rows) floats) and multiplied with the SIMD matmul.
 */
export function matmulQ8_0(
  out: Float32Array,
  x: Float32Array,
  w: Uint8Array,
  rows: number,
  inFeatures: number,
  outFeatures: number,
  scratch: (count: number) => Float32Array,
): void {
  if (rows === 1) {
    matvecQ8_0(out, w, x, outFeatures, inFeatures);
    return;
  }
  const rowBytes = (inFeatures / 32) * 34;
  const space = scratch(Q8_CHUNK_ROWS * (inFeatures + rows));
  const input = x.subarray(0, rows * inFeatures);
  for (let start = 0; start < outFeatures; start += Q8_CHUNK_ROWS) {
    const count = Math.min(Q8_CHUNK_ROWS, outFeatures - start);
    const decoded = space.subarray(0, count * inFeatures);
    dequantize('q8_0', w.subarray(start * rowBytes, (start + count) * rowBytes), count * inFeatures, decoded);
    const partial = space.subarray(Q8_CHUNK_ROWS * inFeatures, Q8_CHUNK_ROWS * inFeatures + rows * count);
    coreMatmulF32(partial, input, decoded, rows, count, inFeatures, true);
    for (let t = 0; t < rows; t++)
      out.set(partial.subarray(t * count, (t + 1) * count), t * outFeatures + start);
  }
}

/** RMSNorm of each of `rows` rows of length `size`: out = x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  rows: number,
  size: number,
  eps: number,
): void {
  for (let t = 0; t < rows; t++) {
    const o = t * size;
    let ss = 0;
    for (let i = 0; i < size; i++) ss += x[o + i] * x[o + i];
    const scale = 1 / Math.sqrt(ss / size + eps);
    for (let i = 0; i < size; i++) out[o + i] = weight[i] * (scale * x[o + i]);
  }
}

/** In-place softmax of values[offset, offset + length). */
export function softmaxInPlace(values: Float32Array, offset: number, length: number): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < length; i++) if (values[offset + i] > max) max = values[offset + i];
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const e = Math.exp(values[offset + i] - max);
    values[offset + i] = e;
    sum += e;
  }
  const inverse = 1 / sum;
  for (let i = 0; i < length; i++) values[offset + i] *= inverse;
}

/** gate = silu(gate) * up, element-wise over `count` values. */
export function swiglu(gate: Float32Array, up: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i];
    gate[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** x += y over `count` values. */
export function addInPlace(x: Float32Array, y: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) x[i] += y[i];
}
