// Vector and matrix norms, accumulated in float64.

/** sqrt(sum x^2): the L2 norm of a vector, the Frobenius norm of a matrix. Scaled to avoid overflow. */
export function frobeniusNorm(x: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]));
  if (scale === 0 || !Number.isFinite(scale))
    return scale === 0 ? 0 : Number.isNaN(scale) ? Number.NaN : scale;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] / scale;
    sum += v * v;
  }
  return scale * Math.sqrt(sum);
}

/** Alias of frobeniusNorm for vectors. */
export const l2Norm = frobeniusNorm;

/** sum |x|. */
export function l1Norm(x: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i]);
  return sum;
}

/** max |x|. */
export function maxNorm(x: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > max || Number.isNaN(v)) max = v;
  }
  return max;
}

/**
 * The spectral norm (largest singular value) of a rows x cols row-major matrix, by power iteration on
 * A^T A until the estimate changes by less than `tolerance` (relative).
 */
export function spectralNorm(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  options: { iterations?: number; tolerance?: number } = {},
): number {
  const iterations = options.iterations ?? 200;
  const tolerance = options.tolerance ?? 1e-10;
  let v = new Float64Array(cols).fill(1 / Math.sqrt(cols || 1));
  for (let i = 0; i < cols; i++) v[i] += (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 1e-3;
  const av = new Float64Array(rows);
  let estimate = 0;
  for (let iteration = 0; iteration < iterations; iteration++) {
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += a[r * cols + c] * v[c];
      av[r] = sum;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) next[c] += a[r * cols + c] * av[r];
    const length = frobeniusNorm(next);
    if (length === 0) return 0;
    for (let c = 0; c < cols; c++) next[c] /= length;
    const value = Math.sqrt(length);
    v = next;
    if (Math.abs(value - estimate) <= tolerance * value) return value;
    estimate = value;
  }
  return estimate;
}
