// histLowRangeAbove: histLowRange's window of low-bit bins plus one counter of the elements above the
// window, on bf16-delta-like data and on awkward f32 bits (NaN, ±inf, ±0, subnormals); checked against
// the plain-JS mirror, against histLowRange and plain counts written here, and across chunked calls.

import { webAssembly } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { loadMergeKernels, type MergeKernelExports } from './kernels';
import * as reference from './reference';
import {
  Arena,
  deltaBits,
  differences,
  floatsOf,
  randomF32Bits,
  seededRandom,
  specialF32Bits,
} from './simd-test-support';

const wasm = webAssembly();
const memory = wasm?.Memory && new wasm.Memory({ initial: 16, maximum: 65536, shared: true });
const loaded = memory && loadMergeKernels(memory);

/** How many of `bits` have high bucket (bits & 0x7fffffff) >>> 16 at least `limit`, counted per bin here. */
function plainAbove(bits: Uint32Array, limit: number): number {
  const bins = new Float64Array(32768);
  for (const x of bits) bins[(x & 0x7fffffff) >>> 16]!++;
  let total = 0;
  for (let b = Math.max(0, limit); b < 32768; b++) total += bins[b]!;
  return total;
}

const windows: [number, number][] = [
  [0x3980 - 4, 8],
  [0x3980, 1],
  [0x3981, 3],
  [0, 2],
  [-3, 5],
  [0x7f80, 1], // the infinities' bucket: every NaN lies above it
  [0x7ffe, 2],
  [0x7ff8, 16], // past bucket 32767: nothing above
  [0x8000, 2],
  [0x7ffffffd, 4], // bucketLow + bucketCount wraps as an i32: still nothing above
  [0x3980, 0], // no bins: the one counter counts b ≥ 0x3980
  [0x3980, -1],
  [-0x80000000, 1], // everything above
  [-0x80000000, -0x80000000],
  [0x7fffffff, 1],
];

describe.skipIf(loaded === undefined)('histLowRangeAbove', () => {
  const kernels = loaded as MergeKernelExports;
  const arena = new Arena(memory!);
  const lengths = [0, 1, 3, 7, 8, 9, 13, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4103];

  it.each(lengths)(
    'matches the mirror, histLowRange and plain counts for windows of buckets (n = %i)',
    (n) => {
      const random = seededRandom(300 + n);
      const kinds = { deltas: deltaBits(n, random), awkward: randomF32Bits(n, random) };
      for (const [kind, bits] of Object.entries(kinds)) {
        for (let i = 5; i < n; i += 97)
          bits[i] = (0x7ff8 + (i % 8)) * 65536 + (i & 0xffff) + (i % 2) * 0x80000000; // top buckets
        const values = floatsOf(bits);
        for (const [bucketLow, bucketCount] of windows) {
          arena.reset();
          const label = `${kind}, window ${bucketLow} + ${bucketCount}`;
          const bins = 65536 * Math.max(0, bucketCount);
          const start = new Uint32Array(bins + 1).map(() => Math.floor(random() * 3));
          start[bins] = 0xffffffff - Math.floor(random() * 4); // the above-count wraps as a u32
          const src = arena.place(values, [12, 0, 4, 8][n % 4]!);
          const hist = arena.place(start, [4, 8, 12, 0][(n + bucketCount) & 3]!);
          kernels.histLowRangeAbove(hist, src, n, bucketLow, bucketCount);
          const actual = arena.counters(hist, bins + 1);
          expect(arena.guardIntact(hist, (bins + 1) * 4), label).toBe(true);
          const expected = start.slice();
          reference.histLowRangeAbove(expected, values, n, bucketLow, bucketCount);
          expect(differences(actual, expected), label).toEqual([]);
          // the bins are histLowRange's; the last counter is the plain count above the window
          const window = arena.place(start.subarray(0, bins), 4);
          kernels.histLowRange(window, src, n, bucketLow, bucketCount);
          expect(differences(actual.subarray(0, bins), arena.counters(window, bins)), label).toEqual([]);
          const above = plainAbove(bits, bucketLow + Math.max(0, bucketCount));
          expect(actual[bins], label).toBe((start[bins]! + above) % 2 ** 32);
        }
      }
    },
  );

  it('ranks NaN magnitudes above +inf and counts ±inf, ±0 and subnormals in their buckets', () => {
    arena.reset();
    const bits = Uint32Array.from(
      { length: 301 },
      (_, i) => specialF32Bits[(i * 7) % specialF32Bits.length]!,
    );
    const values = floatsOf(bits);
    const src = arena.place(values, 8);
    // the infinities' bucket holds ±inf at low bits 0 and the NaNs of payloads below 0x10000; every other
    // NaN is above it
    const nans = values.filter(Number.isNaN).length;
    const smallNans = Array.from(bits).filter((x) => (x & 0x7fff0000) === 0x7f800000 && (x & 0xffff) !== 0);
    const infinities = values.filter((x) => Math.abs(x) === Infinity).length;
    const infinity = arena.place(new Uint32Array(65537), 4);
    kernels.histLowRangeAbove(infinity, src, bits.length, 0x7f80, 1);
    const counts = arena.counters(infinity, 65537);
    const inBucket = counts.subarray(0, 65536).reduce((sum, count) => sum + count, 0);
    expect([counts[0], inBucket, counts[65536]]).toEqual([
      infinities,
      infinities + smallNans.length,
      nans - smallNans.length,
    ]);
    expect([infinities, smallNans.length, nans - smallNans.length].every((count) => count > 10)).toBe(true);
    // bucket 0: ±0 and the subnormals whose high bits are zero; everything else above
    const zero = arena.place(new Uint32Array(65537), 0);
    kernels.histLowRangeAbove(zero, src, bits.length, 0, 1);
    const low = arena.counters(zero, 65537);
    const inZero = Array.from(bits).filter((x) => (x & 0x7fff0000) === 0).length;
    expect(low.subarray(0, 65536).reduce((sum, count) => sum + count, 0)).toBe(inZero);
    expect(low[0x8000]).toBe(Array.from(bits).filter((x) => (x & 0x7fffffff) === 0x8000).length);
    expect(low[65536]).toBe(bits.length - inZero);
  });

  it('with bucketCount ≤ 0 counts no bin, only the elements at or above bucketLow, in hist[0]', () => {
    const n = 1003;
    const bits = deltaBits(n, seededRandom(5));
    arena.reset();
    const src = arena.place(floatsOf(bits), 12);
    for (const [bucketLow, bucketCount] of [
      [0x3980, 0],
      [0x3981, -7],
      [0, 0],
      [0x8000, 0],
      [-5, -0x80000000],
    ] as const) {
      const hist = arena.place(Uint32Array.of(11), 4);
      kernels.histLowRangeAbove(hist, src, n, bucketLow, bucketCount);
      expect(arena.guardIntact(hist, 4)).toBe(true);
      const expected = Array.from(bits).filter((x) => (x & 0x7fffffff) >>> 16 >= bucketLow).length;
      expect(arena.counters(hist, 1)[0], `${bucketLow}, ${bucketCount}`).toBe(11 + expected);
    }
  });

  it('accumulates over chunked calls of odd lengths to the counts of one call', () => {
    arena.reset();
    const n = 9001;
    const values = floatsOf(deltaBits(n, seededRandom(31)));
    const src = arena.place(values, 4);
    const [bucketLow, bucketCount] = [0x3980 - 2, 4];
    const size = bucketCount * 65536 + 1;
    const whole = arena.place(new Uint32Array(size), 0);
    kernels.histLowRangeAbove(whole, src, n, bucketLow, bucketCount);
    const chunked = arena.place(new Uint32Array(size), 8);
    let calls = 0;
    for (let start = 0, length = 5; start < n; start += length, length = (length * 5 + 1) % 997, calls++)
      kernels.histLowRangeAbove(
        chunked,
        src + 4 * start,
        Math.min(length, n - start),
        bucketLow,
        bucketCount,
      );
    expect(calls).toBeGreaterThan(10);
    const counts = arena.counters(chunked, size);
    expect(differences(counts, arena.counters(whole, size))).toEqual([]);
    expect(counts[size - 1]).toBe(plainAbove(new Uint32Array(values.buffer), bucketLow + bucketCount));
    expect(counts[size - 1]).toBeGreaterThan(n / 10);
  });

  it('counts no element past n (memory after the array holds elements in and above the window)', () => {
    arena.reset();
    const bits = Uint32Array.from({ length: 200 }, (_, i) => ((0x3980 + (i % 2) * 0x100) << 16) | (i % 3));
    const src = arena.place(floatsOf(bits), 4);
    for (let n = 0; n <= 160; n++) {
      const hist = arena.place(new Uint32Array(65537), [0, 4, 8, 12][n % 4]!);
      kernels.histLowRangeAbove(hist, src, n, 0x3980, 1);
      const counts = arena.counters(hist, 65537);
      const inWindow = counts.subarray(0, 65536).reduce((sum, count) => sum + count, 0);
      expect([inWindow, counts[65536]], `n = ${n}`).toEqual([Math.ceil(n / 2), Math.floor(n / 2)]);
      expect(arena.guardIntact(hist, 65537 * 4)).toBe(true);
    }
  });
});
