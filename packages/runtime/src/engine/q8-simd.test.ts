import { matvecQ8_0 } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { XorShiftRandom } from '../generation/sampler';
import { Q8SimdStore, q8SimdSupported } from './q8-simd';

function randomQ8(rows: number, cols: number, seed: number): Uint8Array {
  const random = new XorShiftRandom(seed);
  const bytes = new Uint8Array((rows * cols * 34) / 32);
  for (let b = 0; b < bytes.length; b += 34) {
    // f16 scales between 2^-8 and 2^-5 (exponent bits 7..10), any sign
    const exponent = 7 + Math.floor(random.next() * 4);
    const half = (random.next() < 0.5 ? 0x8000 : 0) | (exponent << 10) | Math.floor(random.next() * 1024);
    bytes[b] = half & 0xff;
    bytes[b + 1] = half >> 8;
    for (let i = 0; i < 32; i++) bytes[b + 2 + i] = Math.floor(random.next() * 256);
  }
  return bytes;
}

describe.runIf(q8SimdSupported())('q8_0 SIMD matvec', () => {
  it.each([
    [1, 32],
    [7, 64],
    [96, 768],
    [33, 2048],
  ])('matches the scalar q8_0 matvec for [%i, %i]', (rows, cols) => {
    const store = new Q8SimdStore();
    const bytes = randomQ8(rows, cols, rows * 31 + cols);
    const offset = store.place(bytes);
    store.seal(rows, cols);
    const random = new XorShiftRandom(5);
    const x = Float32Array.from({ length: cols }, () => (random.next() - 0.5) * 4);
    x[3] = 0;
    const expected = matvecQ8_0(new Float32Array(rows), bytes, x, rows, cols);
    const actual = new Float32Array(rows);
    store.matvec(actual, offset, x, rows, cols);
    const scale = Math.max(...expected.map(Math.abs));
    expect(actual).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-4 * scale });
    expect(store.view(offset, bytes.length)).toEqual(bytes);
  });

  it('an all-zero input block gives zeros, not NaN', () => {
    const store = new Q8SimdStore();
    const bytes = randomQ8(4, 64, 1);
    const offset = store.place(bytes);
    store.seal(4, 64);
    const out = new Float32Array(4).fill(Number.NaN);
    store.matvec(out, offset, new Float32Array(64), 4, 64);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });
});
