// Normalizations over the last axis: each consecutive run of `size` values is one row. `out` may alias `x`.
// Sums are accumulated in float64 (JavaScript numbers), so large rows lose no precision.

/** out = x / sqrt(mean(x^2) + epsilon) * weight, row by row; rows = x.length / weight.length. */
export function rmsnorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  epsilon = 1e-5,
): Float32Array {
  const size = weight.length;
  for (let offset = 0; offset < x.length; offset += size) {
    let sumSquares = 0;
    for (let i = 0; i < size; i++) {
      const v = x[offset + i];
      sumSquares += v * v;
    }
    const inverse = 1 / Math.sqrt(sumSquares / size + epsilon);
    for (let i = 0; i < size; i++) out[offset + i] = x[offset + i] * inverse * weight[i];
  }
  return out;
}

/** out = (x - mean) / sqrt(var + epsilon) * weight + bias, row by row; bias may be null. */
export function layernorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  epsilon = 1e-5,
): Float32Array {
  const size = weight.length;
  for (let offset = 0; offset < x.length; offset += size) {
    let sum = 0;
    for (let i = 0; i < size; i++) sum += x[offset + i];
    const mean = sum / size;
    let variance = 0;
    for (let i = 0; i < size; i++) {
      const d = x[offset + i] - mean;
      variance += d * d;
    }
    const inverse = 1 / Math.sqrt(variance / size + epsilon);
    for (let i = 0; i < size; i++) {
      const normalized = (x[offset + i] - mean) * inverse * weight[i];
      out[offset + i] = bias === null ? normalized : normalized + bias[i];
    }
  }
  return out;
}

/**
 * Numerically stable softmax (the row maximum is subtracted first) over rows of `size` (default: all of x).
 * A row of all -Infinity gives NaN (as in PyTorch); a NaN anywhere in a row makes that row NaN.
 */
export function softmax(out: Float32Array, x: Float32Array, size: number = x.length): Float32Array {
  for (let offset = 0; offset < x.length; offset += size) {
    let max = Number.NEGATIVE_INFINITY;
    let sawNaN = false;
    for (let i = 0; i < size; i++) {
      const v = x[offset + i];
      if (v > max) max = v;
      else if (Number.isNaN(v)) sawNaN = true;
    }
    if (sawNaN) {
      for (let i = 0; i < size; i++) out[offset + i] = Number.NaN;
      continue;
    }
    let sum = 0;
    for (let i = 0; i < size; i++) {
      const e = Math.exp(x[offset + i] - max);
      out[offset + i] = e;
      sum += e;
    }
    const inverse = 1 / sum;
    for (let i = 0; i < size; i++) out[offset + i] *= inverse;
  }
  return out;
}
