// The radix-select histograms on data shaped like TIES deltas of bf16 weights: few distinct values, long
// runs of the same bin, low 16 bits mostly zero; checked against the plain-JS mirror, against plain
// counts written here, and across chunked calls (sub-histograms fold to the same totals).
import { webAssembly } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { loadMergeKernels, type MergeKernelExports, mergeKernelModuleBytes } from './kernels';
import * as reference from './reference';
import { Arena, deltaBits, differences, floatsOf, seededRandom } from './simd-test-support';

const wasm = webAssembly();
const memory = wasm?.Memory && new wasm.Memory({ initial: 16, maximum: 65536, shared: true });
const loaded = memory && loadMergeKernels(memory);
const HIGH = 4 * 32768;

/** Plain per-bin counts of (bits & 0x7fffffff) >>> 16, written independently of the mirror. */
function binCounts(bits: Uint32Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (const x of bits) counts.set((x & 0x7fffffff) >>> 16, (counts.get((x & 0x7fffffff) >>> 16) ?? 0) + 1);
  return counts;
}

describe.skipIf(wasm === undefined || typeof SharedArrayBuffer === 'undefined')('merge kernel module', () => {
  it('assembles into a module this host validates and loads (kernel tests would skip, not fail, if not)', () => {
    expect(wasm!.validate(mergeKernelModuleBytes())).toBe(true);
    expect(loaded).toBeDefined();
  });
});

describe.skipIf(loaded === undefined)('radix-select histograms on bf16-delta data', () => {
  const kernels = loaded as MergeKernelExports;
  const arena = new Arena(memory!);
  const lengths = [0, 1, 3, 7, 8, 9, 13, 31, 32, 33, 63, 1000, 4103];

  it.each(lengths)(
    'histHighSplit counts into four sub-histograms and folds to the plain counts (n = %i)',
    (n) => {
      arena.reset();
      const random = seededRandom(100 + n);
      const bits = deltaBits(n, random);
      const values = floatsOf(bits);
      const src = arena.place(values, [4, 8, 12, 0][n % 4]!);
      const start = new Uint32Array(HIGH).map(() =>
        random() < 0.01 ? 0xffffffff - Math.floor(random() * 3) : 0,
      );
      const hist = arena.place(start, [0, 4, 8, 12][n % 4]!);
      kernels.histHighSplit(hist, src, n);
      const expected = start.slice();
      reference.histHighSplit(expected, values, n);
      expect(differences(arena.counters(hist, HIGH), expected)).toEqual([]);
      expect(arena.guardIntact(hist, HIGH * 4)).toBe(true);
      kernels.histHighFold(hist);
      reference.histHighFold(expected);
      const folded = arena.counters(hist, HIGH);
      expect(differences(folded, expected)).toEqual([]);
      // independently: totals = start's four counters (u32, wrapping) + the plain count; the rest zero
      const counts = binCounts(bits);
      for (let b = 0; b < 32768; b++) {
        const initial = start[b]! + start[b + 32768]! + start[b + 65536]! + start[b + 98304]!;
        if (folded[b] !== (initial + (counts.get(b) ?? 0)) >>> 0) expect(`bin ${b}: ${folded[b]}`).toBe('');
      }
      expect(folded.subarray(32768).every((count) => count === 0)).toBe(true);
    },
  );

  it('histHighSplit in chunks of odd lengths folds to the same totals as one call', () => {
    arena.reset();
    const n = 9001;
    const values = floatsOf(deltaBits(n, seededRandom(3)));
    const src = arena.place(values, 4);
    const whole = arena.place(new Uint32Array(HIGH), 0);
    kernels.histHighSplit(whole, src, n);
    kernels.histHighFold(whole);
    const chunked = arena.place(new Uint32Array(HIGH), 8);
    for (let start = 0, size = 5; start < n; start += size, size = (size * 5 + 1) % 997) {
      kernels.histHighSplit(chunked, src + 4 * start, Math.min(size, n - start));
      if (size % 3 === 0) kernels.histHighFold(chunked); // folding midway changes nothing
    }
    kernels.histHighFold(chunked);
    expect(differences(arena.counters(chunked, HIGH), arena.counters(whole, HIGH))).toEqual([]);
  });

  const windows: [number, number][] = [
    [0x3980 - 4, 8],
    [0x3980, 1],
    [0x3981, 3],
    [0, 2],
    [-3, 5],
    [0x7ffe, 2],
    [0x7ff8, 0x7fffffff],
    [0x3980, 0],
    [0x3980, -1],
    [-0x80000000, 1],
    [0x7fffffff, 1],
  ];
  it.each(lengths)('histLowRange matches the mirror for windows of buckets (n = %i)', (n) => {
    const random = seededRandom(200 + n);
    const bits = deltaBits(n, random);
    // a few elements at the top buckets, for the windows there
    for (let i = 5; i < n; i += 97)
      bits[i] = (0x7ff8 + (i % 8)) * 65536 + (i & 0xffff) + (i % 2) * 0x80000000;
    const values = floatsOf(bits);
    for (const [bucketLow, bucketCount] of windows) {
      arena.reset();
      const src = arena.place(values, [12, 0, 4, 8][n % 4]!);
      const counters = 65536 * Math.max(0, Math.min(bucketCount, 8));
      const start = new Uint32Array(counters).map(() => Math.floor(random() * 3));
      const hist = arena.place(start, 4);
      kernels.histLowRange(hist, src, n, bucketLow, bucketCount);
      const expected = start.slice();
      reference.histLowRange(expected, values, n, bucketLow, bucketCount);
      const label = `window ${bucketLow} + ${bucketCount}`;
      expect(differences(arena.counters(hist, counters), expected), label).toEqual([]);
      expect(arena.guardIntact(hist, counters * 4), label).toBe(true);
    }
  });

  it('counts no element past n (memory after the array holds elements of the window)', () => {
    arena.reset();
    const bits = Uint32Array.from({ length: 160 }, (_, i) => (0x3980 << 16) | (i % 3));
    const src = arena.place(floatsOf(bits), 4);
    const sum = (counts: Uint32Array) => counts.reduce((total, count) => total + count, 0);
    for (let n = 0; n <= 130; n++) {
      const low = arena.place(new Uint32Array(2 * 65536), 0);
      kernels.histLowRange(low, src, n, 0x3980, 2);
      kernels.histLow(low + 4 * 65536, src, n, 0x3980);
      const counts = arena.counters(low, 2 * 65536);
      expect([sum(counts.subarray(0, 65536)), sum(counts.subarray(65536))], `n = ${n}`).toEqual([n, n]);
      const high = arena.place(new Uint32Array(HIGH), 8);
      kernels.histHighSplit(high, src, n);
      kernels.histHighFold(high);
      expect(arena.counters(high, HIGH)[0x3980], `n = ${n}`).toBe(n);
    }
  });

  it('histLowRange over a window equals histLow bucket by bucket', () => {
    arena.reset();
    const n = 6007;
    const values = floatsOf(deltaBits(n, seededRandom(17)));
    const src = arena.place(values, 8);
    const [bucketLow, bucketCount] = [0x3980 - 3, 7];
    const window = arena.place(new Uint32Array(bucketCount * 65536), 0);
    kernels.histLowRange(window, src, n, bucketLow, bucketCount);
    const windowCounts = arena.counters(window, bucketCount * 65536);
    let total = 0;
    for (let k = 0; k < bucketCount; k++) {
      const single = arena.place(new Uint32Array(65536), 4);
      kernels.histLow(single, src, n, bucketLow + k);
      const counts = arena.counters(single, 65536);
      expect(differences(windowCounts.subarray(k * 65536, (k + 1) * 65536), counts), `bucket ${k}`).toEqual(
        [],
      );
      total += counts.reduce((sum, count) => sum + count, 0);
    }
    // and the window holds exactly the elements of its buckets
    const inWindow = Array.from(new Uint32Array(values.buffer)).filter((x) => {
      const b = (x & 0x7fffffff) >>> 16;
      return b >= bucketLow && b < bucketLow + bucketCount;
    }).length;
    expect(total).toBe(inWindow);
    expect(inWindow).toBeGreaterThan(n / 3);
  });
});
