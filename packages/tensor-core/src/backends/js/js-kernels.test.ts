// The plain-function kernels (scalar TypeScript and WebAssembly SIMD paths) against float64 references
// computed here, independently of the code under test.
import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16 } from '../../half';
import { matmulF32, matmulF32Scalar, matmulQ8_0 } from './matmul';
import { matvecF32, matvecF32Scalar, matvecQ8_0, matvecQ8_0Scalar } from './matvec';
import { createSimdArena } from './wasm/simd-engine';

function random(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 32 - 0.5;
  }
  return values;
}

function referenceMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeB: boolean,
) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]);
      out[i * n + j] = sum;
    }
  return out;
}

describe('matvecF32', () => {
  const arena = createSimdArena();
  it.each([
    [1, 1],
    [3, 17],
    [33, 1023],
    [64, 4096],
  ])('rows=%i cols=%i: TypeScript and SIMD paths match float64', (rows, cols) => {
    const weight = random(rows * cols, rows + cols);
    const x = random(cols, 7);
    const expected = referenceMatmul(weight, x, rows, 1, cols, false);
    const scalar = matvecF32Scalar(new Float32Array(rows), weight, x, rows, cols);
    const simd = matvecF32(new Float32Array(rows), arena.copyF32(weight), x, rows, cols);
    expect(scalar).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-5 });
    expect(simd).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-5 });
  });

  it('splits rows into chunks claimed by two threads, with the same result', () => {
    const threaded = createSimdArena({ threads: 2 });
    const rows = 301;
    const cols = 1000;
    const weight = threaded.copyF32(random(rows * cols, 3));
    const x = threaded.copyF32(random(cols, 4));
    const out = threaded.allocateF32(rows);
    matvecF32(out, weight, x, rows, cols);
    expect(out).toBeAllClose(referenceMatmul(weight, x, rows, 1, cols, false), { rtol: 1e-4, atol: 1e-5 });
    threaded.close();
  });
});

describe('SimdArena.sum (the read-only stream probe)', () => {
  it.each([1, 2])('sums 100003 values with %i thread(s), tail included', (threads) => {
    const arena = createSimdArena({ threads });
    const values = arena.copyF32(random(100_003, 9));
    let expected = 0;
    for (const v of values) expected += v;
    expect(arena.sum(values)).toBeCloseTo(expected, 2);
    arena.close();
  });
});

/** A q8_0 matrix with varied scales (both signs) and every int8 value, and its float64 dequantization. */
function q8Matrix(rows: number, cols: number): { bytes: Uint8Array; dense: Float64Array } {
  const bytes = new Uint8Array(rows * (cols / 32) * 34);
  const dense = new Float64Array(rows * cols);
  let state = 11;
  for (let block = 0; block < (rows * cols) / 32; block++) {
    const scaleBits = f32ToF16((block % 2 ? -1 : 1) * (0.001 + (block % 7) * 0.013));
    bytes[block * 34] = scaleBits & 0xff;
    bytes[block * 34 + 1] = scaleBits >> 8;
    for (let i = 0; i < 32; i++) {
      state = (state * 1103515245 + 12345) % 2147483648;
      const q = (state % 256) - 128;
      bytes[block * 34 + 2 + i] = q & 0xff;
      dense[block * 32 + i] = f16ToF32(scaleBits) * q;
    }
  }
  return { bytes, dense };
}

/** Largest error from quantizing x per 32-block to int16 (step max|x| / 32767): sum |w| * step / 2. */
function int16InputBound(weights: Float64Array, x: Float32Array): number {
  let bound = 0;
  for (let c = 0; c < x.length; c += 32) {
    let max = 0;
    for (let i = c; i < c + 32; i++) max = Math.max(max, Math.abs(x[i]));
    for (let i = c; i < c + 32; i++) bound += (Math.abs(weights[i]) * max) / 32767 / 2;
  }
  return bound;
}

describe('matvecQ8_0', () => {
  it.each([
    [5, 96, 0],
    [5, 96, 1],
    [70, 64, 1],
    [71, 4096, 2],
  ])(
    'rows=%i cols=%i: TypeScript and SIMD (threads=%i, 0 = heap) read q8_0 blocks in place',
    (rows, cols, threads) => {
      const { bytes, dense } = q8Matrix(rows, cols);
      const x = random(cols, 5);
      x.fill(0, 32, 64); // an all-zero input block (scale 0) must give zeros, not NaN
      const expected = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[r] += dense[r * cols + c] * x[c];
      const tolerance = { rtol: 1e-4, atol: 1e-4 };
      expect(matvecQ8_0Scalar(new Float32Array(rows), bytes, x, rows, cols)).toBeAllClose(
        expected,
        tolerance,
      );
      if (threads === 0) {
        expect(matvecQ8_0(new Float32Array(rows), bytes, x, rows, cols)).toBeAllClose(expected, tolerance);
        return;
      }
      // The SIMD kernel quantizes x per 32-block to int16 (step max|x| / 32767): each product is then off
      // by at most |w| * step / 2, so a row's error is bounded by the sum of those (plus f32 rounding).
      const arena = createSimdArena({ threads });
      const out = matvecQ8_0(new Float32Array(rows), arena.copyBytes(bytes), x, rows, cols);
      for (let r = 0; r < rows; r++) {
        const bound = int16InputBound(dense.subarray(r * cols, (r + 1) * cols), x);
        expect(Math.abs(out[r] - expected[r])).toBeLessThanOrEqual(
          bound + 1e-5 * (1 + Math.abs(expected[r])),
        );
      }
      arena.close();
    },
  );
});

describe('matmulQ8_0', () => {
  it.each([
    [1, 5, 64, 0],
    [7, 13, 96, 1],
    [33, 70, 320, 2],
  ])('m=%i n=%i k=%i (threads=%i, 0 = heap) matches float64', (m, n, k, threads) => {
    const { bytes, dense } = q8Matrix(n, k);
    const a = random(m * k, 9);
    const expected = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        for (let p = 0; p < k; p++) expected[i * n + j] += a[i * k + p] * dense[j * k + p];
    const tolerance = { rtol: 1e-4, atol: 1e-4 };
    if (threads === 0) {
      expect(matmulQ8_0(new Float32Array(m * n), a, bytes, m, n, k)).toBeAllClose(expected, tolerance);
      return;
    }
    // SIMD: a's rows are quantized like matvecQ8_0's input (see there for the bound).
    const arena = createSimdArena({ threads });
    const out = matmulQ8_0(new Float32Array(m * n), a, arena.copyBytes(bytes), m, n, k);
    for (let i = 0; i < m; i++) {
      const row = a.subarray(i * k, (i + 1) * k);
      for (let j = 0; j < n; j++) {
        const bound = int16InputBound(dense.subarray(j * k, (j + 1) * k), row);
        const e = expected[i * n + j];
        expect(Math.abs(out[i * n + j] - e)).toBeLessThanOrEqual(bound + 1e-5 * (1 + Math.abs(e)));
      }
    }
    arena.close();
  });
});

describe('matmulF32', () => {
  it.each([
    [1, 1, 1, false],
    [3, 17, 33, false],
    [17, 33, 3, true],
    [33, 1, 17, true],
    [64, 72, 129, false],
  ] as const)('m=%i n=%i k=%i transposeB=%s matches float64', (m, n, k, transposeB) => {
    const a = random(m * k, m);
    const b = random(n * k, n);
    const expected = referenceMatmul(a, b, m, n, k, transposeB);
    expect(matmulF32(new Float32Array(m * n), a, b, m, n, k, transposeB)).toBeAllClose(expected, {
      rtol: 1e-4,
      atol: 1e-5,
    });
    expect(matmulF32Scalar(new Float32Array(m * n), a, b, m, n, k, transposeB)).toBeAllClose(expected, {
      rtol: 1e-4,
      atol: 1e-5,
    });
  });

  it('two threads claim row chunks over several k blocks (cache blocking) with the same result', () => {
    const arena = createSimdArena({ threads: 2 });
    const [m, n, k] = [301, 45, 600];
    const a = random(m * k, 31);
    const b = random(n * k, 32);
    for (const transposeB of [false, true]) {
      const out = new Float32Array(m * n);
      arena.matmul(out, a, b, m, n, k, transposeB);
      expect(out).toBeAllClose(referenceMatmul(a, b, m, n, k, transposeB), { rtol: 1e-4, atol: 1e-4 });
    }
    arena.close();
  });

  it('batches, sharing a single b across the batch', () => {
    const [batch, m, n, k] = [3, 5, 9, 20];
    const a = random(batch * m * k, 1);
    const b = random(k * n, 2);
    const out = matmulF32(new Float32Array(batch * m * n), a, b, m, n, k, false, batch);
    for (let index = 0; index < batch; index++) {
      const expected = referenceMatmul(a.subarray(index * m * k, (index + 1) * m * k), b, m, n, k, false);
      expect(out.subarray(index * m * n, (index + 1) * m * n)).toBeAllClose(expected, {
        rtol: 1e-4,
        atol: 1e-5,
      });
    }
  });
});
