// linalg against float64 references written here: products recomputed naively, singular values from a
// separate power method with deflation, top-k from a full sort.
import { describe, expect, it } from 'vitest';
import { frobeniusNorm, l1Norm, maxNorm, spectralNorm } from './norms';
import { qr } from './qr';
import { svd } from './svd';
import { kthLargest, magnitudeMask, selectTopK } from './top-k';

function random(count: number, seed: number): Float64Array {
  let state = seed >>> 0 || 1;
  return Float64Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

function multiply(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j] += a[i * k + p] * b[p * n + j];
  return out;
}

function transposed(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/** Singular values by power iteration on A^T A with deflation: independent of the Jacobi code. */
function referenceSingularValues(a: ArrayLike<number>, rows: number, cols: number, count: number): number[] {
  const gram = multiply(transposed(a, rows, cols), a, cols, rows, cols);
  const values: number[] = [];
  for (let t = 0; t < count; t++) {
    let v = random(cols, 99 + t);
    let lambda = 0;
    for (let iteration = 0; iteration < 3000; iteration++) {
      const next = multiply(gram, v, cols, cols, 1);
      const length = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
      if (length === 0) break;
      v = next.map((x) => x / length);
      if (Math.abs(length - lambda) < 1e-14 * length) {
        lambda = length;
        break;
      }
      lambda = length;
    }
    values.push(Math.sqrt(Math.max(lambda, 0)));
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) gram[i * cols + j] -= lambda * v[i] * v[j];
  }
  return values;
}

/** A rows x cols matrix with the given singular values (random orthonormal factors by Gram-Schmidt). */
function withSpectrum(rows: number, cols: number, values: number[], seed: number): Float64Array {
  const orthonormal = (n: number, k: number, s: number) => {
    const columns: Float64Array[] = [];
    for (let j = 0; j < k; j++) {
      const v = random(n, s + j);
      for (const previous of columns) {
        const dot = v.reduce((sum, x, i) => sum + x * previous[i], 0);
        for (let i = 0; i < n; i++) v[i] -= dot * previous[i];
      }
      const length = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
      columns.push(v.map((x) => x / length));
    }
    return columns;
  };
  const left = orthonormal(rows, values.length, seed);
  const right = orthonormal(cols, values.length, seed + 1000);
  const a = new Float64Array(rows * cols);
  values.forEach((value, t) => {
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) a[r * cols + c] += value * left[t][r] * right[t][c];
  });
  return a;
}

describe('qr', () => {
  it.each([
    [7, 4],
    [4, 7],
    [33, 17],
    [1, 1],
    [5, 5],
  ])('%i x %i: A = QR, Q^T Q = I, R upper triangular', (rows, cols) => {
    const a = random(rows * cols, rows * 31 + cols);
    const { q, r } = qr(a, rows, cols);
    const p = Math.min(rows, cols);
    expect(multiply(q, r, rows, p, cols)).toBeAllClose(a, { atol: 1e-12 });
    expect(multiply(transposed(q, rows, p), q, p, rows, p)).toBeAllClose(identity(p), { atol: 1e-12 });
    for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) expect(r[i * cols + j]).toBe(0);
  });

  it('reports the numerical rank of a rank-deficient matrix', () => {
    const a = withSpectrum(9, 6, [3, 2, 1], 5);
    expect(qr(a, 9, 6).rank).toBe(3);
  });
});

describe('svd', () => {
  it.each([
    [12, 5],
    [5, 12],
    [17, 17],
    [1, 6],
  ])('exact %i x %i reconstructs A with orthonormal factors and reference singular values', (rows, cols) => {
    const a = random(rows * cols, rows + 7 * cols);
    const result = svd(a, rows, cols, { method: 'exact' });
    const p = Math.min(rows, cols);
    expect(result.rank).toBe(p);
    const us = new Float64Array(rows * p);
    for (let r = 0; r < rows; r++)
      for (let t = 0; t < p; t++) us[r * p + t] = result.u[r * p + t] * result.s[t];
    expect(multiply(us, result.vt, rows, p, cols)).toBeAllClose(a, { atol: 2e-6 });
    expect(multiply(result.vt, transposed(result.vt, p, cols), p, cols, p)).toBeAllClose(identity(p), {
      atol: 2e-6,
    });
    expect(multiply(transposed(result.u, rows, p), result.u, p, rows, p)).toBeAllClose(identity(p), {
      atol: 2e-6,
    });
    expect(result.s).toBeAllClose(referenceSingularValues(a, rows, cols, p), { rtol: 1e-5, atol: 1e-6 });
  });

  it('randomized SVD finds the leading singular values of a 300 x 400 matrix with a decaying spectrum', () => {
    const spectrum = Array.from({ length: 40 }, (_, i) => 10 * 0.8 ** i);
    const a = Float32Array.from(withSpectrum(300, 400, spectrum, 3));
    const result = svd(a, 300, 400, { rank: 8, method: 'randomized', seed: 1 });
    expect(result.method).toBe('randomized');
    expect(result.s).toBeAllClose(spectrum.slice(0, 8), { rtol: 1e-3 });
    // rank-8 reconstruction error equals the 9th singular value (Eckart-Young) up to tolerance
    const us = new Float64Array(300 * 8);
    for (let r = 0; r < 300; r++)
      for (let t = 0; t < 8; t++) us[r * 8 + t] = result.u[r * 8 + t] * result.s[t];
    const residual = multiply(us, result.vt, 300, 8, 400).map((x, i) => a[i] - x);
    const tail = Math.sqrt(spectrum.slice(8).reduce((s, x) => s + x * x, 0));
    expect(frobeniusNorm(residual)).toBeGreaterThan(tail * 0.999);
    expect(frobeniusNorm(residual)).toBeLessThan(tail * 1.01);
  });

  it('keeps zero singular values of a rank-deficient matrix at zero', () => {
    const a = withSpectrum(10, 8, [5, 1], 9);
    const result = svd(a, 10, 8, { method: 'exact', rank: 4 });
    expect(Array.from(result.s.slice(0, 2))).toBeAllClose([5, 1], { rtol: 1e-6 });
    expect(Math.max(...result.s.slice(2))).toBeLessThan(1e-6);
  });

  it('rejects bad options with a ValidationError naming the field', () => {
    expect(() => svd(new Float32Array(4), 2, 2, { rank: -1 })).toThrow(/svd\.rank/);
  });
});

describe('norms', () => {
  it('Frobenius, L1 and max norms, without overflow for huge entries', () => {
    expect(frobeniusNorm([3, 4])).toBeCloseTo(5, 12);
    expect(frobeniusNorm([3e200, 4e200])).toBeCloseTo(5e200, -188);
    expect(frobeniusNorm([1e-200, 1e-200])).toBeGreaterThan(0);
    expect(l1Norm([-1, 2, -3])).toBe(6);
    expect(maxNorm([-7, 2])).toBe(7);
    expect(frobeniusNorm([1, Number.NaN])).toBeNaN();
  });

  it('spectral norm equals the largest reference singular value', () => {
    const a = random(15 * 9, 4);
    expect(spectralNorm(a, 15, 9)).toBeCloseTo(referenceSingularValues(a, 15, 9, 1)[0], 8);
  });
});

describe('selection top-k', () => {
  const values = Float64Array.from(random(1001, 8), (x, i) => (i % 10 === 0 ? 0.25 : x));
  const sorted = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b);

  it.each([1, 2, 17, 100, 1000, 1001])(
    'selectTopK(k=%i) equals a full sort (ties to the lower index)',
    (k) => {
      const selected = Array.from(selectTopK(values, k)).sort((a, b) => a - b);
      expect(selected).toEqual(sorted.slice(0, k).sort((a, b) => a - b));
    },
  );

  it('by magnitude, k-th largest, NaN ranked last, density masks', () => {
    const signed = [-5, 1, 4, -2, Number.NaN, 3];
    expect(Array.from(selectTopK(signed, 2, { by: 'magnitude' })).sort()).toEqual([0, 2]);
    expect(kthLargest(signed, 3, { by: 'magnitude' })).toBe(3);
    expect(kthLargest(signed, 1)).toBe(4);
    expect(Array.from(selectTopK(signed, 5)).sort()).toEqual([0, 1, 2, 3, 5]);
    expect(Array.from(magnitudeMask(signed, 0.5))).toEqual([1, 0, 1, 0, 0, 1]);
    expect(kthLargest(values, 17)).toBe(values[sorted[16]]);
    expect(() => kthLargest(signed, 0)).toThrow(/k=0 outside/);
  });
});
