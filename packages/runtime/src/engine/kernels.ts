// The engine's small element-wise loops (matrix products are tensor-core's: see linear.ts). All are
// allocation-free: callers pass output buffers.

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
