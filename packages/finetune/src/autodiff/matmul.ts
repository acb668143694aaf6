// Dense kernels shared by the ops: y = x·Wᵀ and its two products for the backward pass.
// Float32 products of useful size run on tensor-core's WebAssembly SIMD matmul; float64 (gradient
// checks) and tiny products use the loops below: row-major, inner loops over contiguous memory,
// four rows of x at a time so each row of W is read once per four outputs.
import { matmulF32 } from '@meld/tensor-core';
import type { FloatArray } from './tape';

/** Below this many multiply-adds the TypeScript loops are as fast as the SIMD kernel's packing. */
const simdThreshold = 4096;

let scratch = new Float32Array(0);
function scratchOf(length: number): Float32Array {
  if (scratch.length < length) scratch = new Float32Array(length);
  return scratch.subarray(0, length);
}
let transposeScratch = new Float32Array(0);

function useSimd(work: number, ...arrays: FloatArray[]): boolean {
  return work >= simdThreshold && arrays.every((a) => a instanceof Float32Array);
}

function addInto(target: FloatArray, source: Float32Array): void {
  for (let i = 0; i < source.length; i++) target[i] += source[i];
}

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
  if (useSimd(rows * inner * cols, x, w, out)) {
    const x32 = x as Float32Array;
    const w32 = w as Float32Array;
    if (!accumulate) {
      matmulF32(
        out as Float32Array,
        x32.subarray(0, rows * inner),
        w32.subarray(0, cols * inner),
        rows,
        cols,
        inner,
        true,
      );
    } else {
      const tmp = scratchOf(rows * cols);
      matmulF32(tmp, x32.subarray(0, rows * inner), w32.subarray(0, cols * inner), rows, cols, inner, true);
      addInto(out, tmp);
    }
    return;
  }
  matmulTransposedBLoops(x, w, out, rows, inner, cols, accumulate);
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
  if (useSimd(rows * inner * cols, dy, w, dx)) {
    const tmp = scratchOf(rows * inner);
    matmulF32(
      tmp,
      (dy as Float32Array).subarray(0, rows * cols),
      (w as Float32Array).subarray(0, cols * inner),
      rows,
      inner,
      cols,
      false,
    );
    addInto(dx, tmp);
    return;
  }
  matmulAccumulateLoops(dy, w, dx, rows, cols, inner);
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
  if (useSimd(rows * inner * cols, dy, x, dw)) {
    if (transposeScratch.length < rows * cols) transposeScratch = new Float32Array(rows * cols);
    const dyT = transposeScratch.subarray(0, rows * cols);
    for (let n = 0; n < rows; n++) for (let m = 0; m < cols; m++) dyT[m * rows + n] = dy[n * cols + m];
    const tmp = scratchOf(cols * inner);
    matmulF32(tmp, dyT, (x as Float32Array).subarray(0, rows * inner), cols, inner, rows, false);
    addInto(dw, tmp);
    return;
  }
  matmulTransposedAAccumulateLoops(dy, x, dw, rows, cols, inner);
}

/** out[n, m] (+)= Σ_k x[n, k] · w[m, k]. x: [rows, inner], w: [cols, inner], out: [rows, cols]. */
function matmulTransposedBLoops(
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

function matmulAccumulateLoops(
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

function matmulTransposedAAccumulateLoops(
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
