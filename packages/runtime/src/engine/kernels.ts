// Plain typed-array kernels the engine runs on. One file so that swapping in tensor-core's
// kernels later touches nothing else. All are allocation-free: callers pass output buffers.
import { f16ToF32 } from '@meld/tensor-core';

/** out[t, o] = sum_i x[t, i] * w[o, i] for t < rows; w is [outFeatures, inFeatures] f32. */
export function matmulF32(
  out: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rows: number,
  inFeatures: number,
  outFeatures: number,
): void {
  for (let o = 0; o < outFeatures; o++) {
    const wOffset = o * inFeatures;
    for (let t = 0; t < rows; t++) {
      const xOffset = t * inFeatures;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < inFeatures; i += 4) {
        s0 += w[wOffset + i]! * x[xOffset + i]!;
        s1 += w[wOffset + i + 1]! * x[xOffset + i + 1]!;
        s2 += w[wOffset + i + 2]! * x[xOffset + i + 2]!;
        s3 += w[wOffset + i + 3]! * x[xOffset + i + 3]!;
      }
      for (; i < inFeatures; i++) s0 += w[wOffset + i]! * x[xOffset + i]!;
      out[t * outFeatures + o] = s0 + s1 + s2 + s3;
    }
  }
}

const f16Table = new Float32Array(65536);
for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32(i);

/**
 * Same as matmulF32 with w in GGML q8_0 blocks (per 32 values: f16 scale, 32 int8).
 * Each weight row is decoded once into `rowScratch` (length inFeatures) and reused for every input row.
 */
export function matmulQ8_0(
  out: Float32Array,
  x: Float32Array,
  w: Uint8Array,
  rows: number,
  inFeatures: number,
  outFeatures: number,
  rowScratch: Float32Array,
): void {
  const blocks = inFeatures / 32;
  const rowBytes = blocks * 34;
  const signed = new Int8Array(w.buffer, w.byteOffset, w.byteLength);
  for (let o = 0; o < outFeatures; o++) {
    const base = o * rowBytes;
    if (rows === 1) {
      let sum = 0;
      for (let b = 0; b < blocks; b++) {
        const p = base + b * 34;
        const scale = f16Table[w[p]! | (w[p + 1]! << 8)]!;
        const q = p + 2;
        const xo = b * 32;
        let s0 = 0;
        let s1 = 0;
        for (let i = 0; i < 32; i += 2) {
          s0 += signed[q + i]! * x[xo + i]!;
          s1 += signed[q + i + 1]! * x[xo + i + 1]!;
        }
        sum += scale * (s0 + s1);
      }
      out[o] = sum;
      continue;
    }
    for (let b = 0; b < blocks; b++) {
      const p = base + b * 34;
      const scale = f16Table[w[p]! | (w[p + 1]! << 8)]!;
      for (let i = 0; i < 32; i++) rowScratch[b * 32 + i] = scale * signed[p + 2 + i]!;
    }
    for (let t = 0; t < rows; t++) {
      const xOffset = t * inFeatures;
      let s0 = 0;
      let s1 = 0;
      for (let i = 0; i < inFeatures; i += 2) {
        s0 += rowScratch[i]! * x[xOffset + i]!;
        s1 += rowScratch[i + 1]! * x[xOffset + i + 1]!;
      }
      out[t * outFeatures + o] = s0 + s1;
    }
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
    for (let i = 0; i < size; i++) ss += x[o + i]! * x[o + i]!;
    const scale = 1 / Math.sqrt(ss / size + eps);
    for (let i = 0; i < size; i++) out[o + i] = weight[i]! * (scale * x[o + i]!);
  }
}

/** In-place softmax of values[offset, offset + length). */
export function softmaxInPlace(values: Float32Array, offset: number, length: number): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < length; i++) if (values[offset + i]! > max) max = values[offset + i]!;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const e = Math.exp(values[offset + i]! - max);
    values[offset + i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < length; i++) values[offset + i]! *= inv;
}

/** gate = silu(gate) * up, element-wise over `count` values. */
export function swiglu(gate: Float32Array, up: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i]!;
    gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

/** x += y over `count` values. */
export function addInPlace(x: Float32Array, y: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) x[i]! += y[i]!;
}
