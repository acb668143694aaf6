// Dense kernels shared by the ops: y = x·Wᵀ and its two products for the backward pass.
// Row-major; the inner loops run over contiguous memory. Four rows of x are processed together so
// each row of W is read once per four outputs.
import type { FloatArray } from './tape';

/** out[n, m] (+)= Σ_k x[n, k] · w[m, k]. x: [rows, inner], w: [cols, inner], out: [rows, cols]. */
export function matmulTransposedB(
  x: FloatArray,
  w: FloatArray,
  out: FloatArray,
  rows: number,
  inner: number,
  cols: number,
  accumulate = false,
): void {
  let n = 0;
  for (; n + 4 <= rows; n += 4) {
    const x0 = n * inner;
    const x1 = x0 + inner;
    const x2 = x1 + inner;
    const x3 = x2 + inner;
    for (let m = 0; m < cols; m++) {
      const wo = m * inner;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < inner; k++) {
        const wk = w[wo + k];
        s0 += x[x0 + k] * wk;
        s1 += x[x1 + k] * wk;
        s2 += x[x2 + k] * wk;
        s3 += x[x3 + k] * wk;
      }
      if (accumulate) {
        out[n * cols + m] += s0;
        out[(n + 1) * cols + m] += s1;
        out[(n + 2) * cols + m] += s2;
        out[(n + 3) * cols + m] += s3;
      } else {
        out[n * cols + m] = s0;
        out[(n + 1) * cols + m] = s1;
        out[(n + 2) * cols + m] = s2;
        out[(n + 3) * cols + m] = s3;
      }
    }
  }
  for (; n < rows; n++) {
    const xo = n * inner;
    for (let m = 0; m < cols; m++) {
      const wo = m * inner;
      let s = 0;
      for (let k = 0; k < inner; k++) s += x[xo + k] * w[wo + k];
      if (accumulate) out[n * cols + m] += s;
      else out[n * cols + m] = s;
    }
  }
}

/** dx[n, k] += Σ_m dy[n, m] · w[m, k]. dy: [rows, cols], w: [cols, inner], dx: [rows, inner]. */
export function matmulAccumulate(
  dy: FloatArray,
  w: FloatArray,
  dx: FloatArray,
  rows: number,
  cols: number,
  inner: number,
): void {
  for (let n = 0; n < rows; n++) {
    const dyo = n * cols;
    const dxo = n * inner;
    for (let m = 0; m < cols; m++) {
      const g = dy[dyo + m];
      if (g === 0) continue;
      const wo = m * inner;
      for (let k = 0; k < inner; k++) dx[dxo + k] += g * w[wo + k];
    }
  }
}

/** dw[m, k] += Σ_n dy[n, m] · x[n, k]. dy: [rows, cols], x: [rows, inner], dw: [cols, inner]. */
export function matmulTransposedAAccumulate(
  dy: FloatArray,
  x: FloatArray,
  dw: FloatArray,
  rows: number,
  cols: number,
  inner: number,
): void {
  for (let n = 0; n < rows; n++) {
    const dyo = n * cols;
    const xo = n * inner;
    for (let m = 0; m < cols; m++) {
      const g = dy[dyo + m];
      if (g === 0) continue;
      const wo = m * inner;
      for (let k = 0; k < inner; k++) dw[wo + k] += g * x[xo + k];
    }
  }
}
