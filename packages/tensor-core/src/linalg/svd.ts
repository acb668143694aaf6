// Truncated singular value decomposition A (rows x cols, row-major) ~= U diag(S) V^T.
// - exact: one-sided (Hestenes) Jacobi in float64 on the thinner side; right for small matrices.
// - randomized: Halko, Martinsson and Tropp (2011), https://arxiv.org/abs/0909.4061 , with power iterations;
//   the products with A run on the SIMD matmul in f32, orthonormalization and the small SVD in float64.
import { z } from 'zod';
import { matmulF32 } from '../backends/js/matmul';
import { ValidationError } from '../errors';
import { qr } from './qr';

export const svdOptionsSchema = z.object({
  /** Singular triplets to keep (default: all, min(rows, cols)). */
  rank: z.number().int().positive().optional(),
  method: z.enum(['auto', 'exact', 'randomized']).default('auto'),
  /** Extra random directions for the randomized method. */
  oversamples: z.number().int().nonnegative().default(10),
  /** Power iterations for the randomized method (more: sharper for slowly decaying spectra). */
  powerIterations: z.number().int().nonnegative().default(2),
  seed: z.number().int().default(0),
});
export type SvdOptions = z.input<typeof svdOptionsSchema>;

export interface SvdResult {
  /** rows x rank, row-major. */
  u: Float32Array;
  /** rank singular values, descending, >= 0. */
  s: Float32Array;
  /** rank x cols, row-major (V transposed). */
  vt: Float32Array;
  rank: number;
  method: 'exact' | 'randomized';
}

/**
 * One-sided Jacobi on the columns of G (m x n, m >= n, given column-major as n columns of m values).
 * Returns the rotated columns (U * S) and V (n x n, column-major).
 */
function jacobi(columns: Float64Array[], m: number): { columns: Float64Array[]; v: Float64Array[] } {
  const n = columns.length;
  const v = Array.from({ length: n }, (_, i) => {
    const column = new Float64Array(n);
    column[i] = 1;
    return column;
  });
  const squaredNorm = (column: Float64Array) => {
    let sum = 0;
    for (let r = 0; r < column.length; r++) sum += column[r] * column[r];
    return sum;
  };
  const norms = new Float64Array(n);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    // Squared column norms are recomputed each sweep and updated exactly by each rotation in between
    // (alpha' = alpha - t gamma, beta' = beta + t gamma), so a pair costs one dot product, not three.
    for (let i = 0; i < n; i++) norms[i] = squaredNorm(columns[i]);
    for (let i = 0; i < n - 1; i++) {
      for (let j = i + 1; j < n; j++) {
        const gi = columns[i];
        const gj = columns[j];
        const alpha = norms[i];
        const beta = norms[j];
        let gamma = 0;
        for (let r = 0; r < m; r++) gamma += gi[r] * gj[r];
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let r = 0; r < m; r++) {
          const a = gi[r];
          const b = gj[r];
          gi[r] = c * a - s * b;
          gj[r] = s * a + c * b;
        }
        norms[i] = alpha - t * gamma;
        norms[j] = beta + t * gamma;
        const vi = v[i];
        const vj = v[j];
        for (let r = 0; r < n; r++) {
          const a = vi[r];
          const b = vj[r];
          vi[r] = c * a - s * b;
          vj[r] = s * a + c * b;
        }
      }
    }
    if (!rotated) break;
  }
  return { columns, v };
}

interface Float64Svd {
  u: Float64Array; // rows x p
  s: Float64Array; // p
  vt: Float64Array; // p x cols
  p: number;
}

/** Exact thin SVD in float64 (p = min(rows, cols) triplets, descending). */
function exactSvd(a: ArrayLike<number>, rows: number, cols: number): Float64Svd {
  const tall = rows >= cols;
  const m = tall ? rows : cols;
  const n = tall ? cols : rows;
  const columns = Array.from({ length: n }, (_, j) => {
    const column = new Float64Array(m);
    for (let r = 0; r < m; r++) column[r] = tall ? a[r * cols + j] : a[j * cols + r];
    return column;
  });
  const { columns: rotated, v } = jacobi(columns, m);
  const sigma = rotated.map((column) => Math.sqrt(column.reduce((sum, value) => sum + value * value, 0)));
  const order = sigma.map((_, i) => i).sort((x, y) => sigma[y] - sigma[x]);
  // tall: A = (G/sigma) S V^T -> U = G/sigma (m = rows), V = v.  wide: A^T = (G/sigma) S V^T -> U = v, V = G/sigma.
  const u = new Float64Array(rows * n);
  const vt = new Float64Array(n * cols);
  const s = new Float64Array(n);
  order.forEach((source, target) => {
    const value = sigma[source];
    s[target] = value;
    const left = rotated[source];
    const right = v[source];
    for (let r = 0; r < m; r++) {
      const normalized = value > 0 ? left[r] / value : 0;
      if (tall) u[r * n + target] = normalized;
      else vt[target * cols + r] = normalized;
    }
    for (let r = 0; r < n; r++) {
      if (tall) vt[target * cols + r] = right[r];
      else u[r * n + target] = right[r];
    }
  });
  return { u, s, vt, p: n };
}

function gaussian(count: number, seed: number): Float32Array {
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(next()));
    const angle = 2 * Math.PI * next();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Row-major transpose of a rows x cols matrix into f32. */
function transpose(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

function randomizedSvd(
  a: Float32Array,
  rows: number,
  cols: number,
  rank: number,
  oversamples: number,
  iterations: number,
  seed: number,
): Float64Svd {
  const l = Math.min(rank + oversamples, rows, cols);
  const omega = gaussian(l * cols, seed); // l x cols
  const y = new Float32Array(rows * l);
  matmulF32(y, a, omega, rows, l, cols, true); // Y = A Omega^T  (rows x l)
  let basis = qr(y, rows, l).q; // rows x l
  const z = new Float32Array(l * cols);
  for (let iteration = 0; iteration < iterations; iteration++) {
    matmulF32(z, transpose(basis, rows, l), a, l, cols, rows); // Z = Q^T A (l x cols)
    const zBasis = qr(transpose(z, l, cols), cols, l).q; // orth(A^T Q): cols x l
    matmulF32(y, a, transpose(zBasis, cols, l), rows, l, cols, true); // Y = A Zb
    basis = qr(y, rows, l).q;
  }
  matmulF32(z, transpose(basis, rows, l), a, l, cols, rows); // B = Q^T A (l x cols)
  const small = exactSvd(z, l, cols); // B = Ub S Vt
  const u = new Float64Array(rows * small.p);
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < small.p; t++) {
      let sum = 0;
      for (let i = 0; i < l; i++) sum += basis[r * l + i] * small.u[i * small.p + t];
      u[r * small.p + t] = sum;
    }
  return { u, s: small.s, vt: small.vt, p: small.p };
}

/** Truncated SVD of a rows x cols row-major matrix. */
export function svd(a: ArrayLike<number>, rows: number, cols: number, options: SvdOptions = {}): SvdResult {
  const parsed = svdOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`svd.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid options');
  }
  if (a.length !== rows * cols)
    throw new ValidationError('svd.a', `expected ${rows * cols} values, got ${a.length}`);
  const full = Math.min(rows, cols);
  const rank = Math.min(parsed.data.rank ?? full, full);
  let method = parsed.data.method;
  // Jacobi costs O(sweeps * min^2 * max) in float64: fine up to a few hundred; past that, randomized.
  if (method === 'auto') method = full <= 256 ? 'exact' : 'randomized';
  const result =
    method === 'exact'
      ? exactSvd(a, rows, cols)
      : randomizedSvd(
          a instanceof Float32Array ? a : Float32Array.from(a),
          rows,
          cols,
          rank,
          parsed.data.oversamples,
          parsed.data.powerIterations,
          parsed.data.seed,
        );
  const u = new Float32Array(rows * rank);
  const vt = new Float32Array(rank * cols);
  for (let r = 0; r < rows; r++) for (let t = 0; t < rank; t++) u[r * rank + t] = result.u[r * result.p + t];
  vt.set(result.vt.subarray(0, rank * cols));
  return { u, s: Float32Array.from(result.s.subarray(0, rank)), vt, rank, method };
}
