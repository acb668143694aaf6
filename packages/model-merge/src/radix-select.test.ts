// MagnitudeRankSelector against a sort, with and without a pass-1 window of low-bit counts: a
// window that holds the wanted buckets makes pass 2 unnecessary, one that misses them must not
// change the result (pass 2 then counts as usual).
import { describe, expect, it } from 'vitest';
import { MagnitudeRankSelector } from './radix-select';

function data(n: number, seed: number): Float32Array {
  let state = seed | 1;
  return Float32Array.from({ length: n }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return Math.round(((state >>> 0) / 4294967296 - 0.5) * 200) / 4096; // discrete, like bf16 deltas
  });
}

function highHistogram(values: Float32Array): Uint32Array {
  const histogram = new Uint32Array(65536);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (const b of bits) histogram[(b & 0x7fffffff) >>> 16]!++;
  return histogram;
}

/** The window's low-bit counts, then the count above the window (histLowRangeAbove's layout). */
function lowCounts(values: Float32Array, window: { low: number; count: number }): Uint32Array {
  const counts = new Uint32Array(window.count * 65536 + 1);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (const b of bits) {
    const high = (b & 0x7fffffff) >>> 16;
    if (high >= window.low + window.count) counts[window.count * 65536]!++;
    else if (high >= window.low) counts[(high - window.low) * 65536 + (b & 0xffff)]!++;
  }
  return counts;
}

describe('MagnitudeRankSelector windows', () => {
  const values = data(50_000, 7);
  const sorted = Array.from(values, Math.abs).sort((a, b) => b - a);
  const ranks = [25_000]; // the median, as TIES at density 0.5 wants

  it('a window chosen from a sample holds the buckets: pass 2 is skipped, results exact', () => {
    const selector = new MagnitudeRankSelector(ranks);
    const sample = values.subarray(0, 10_000);
    const window = selector.chooseWindow(highHistogram(sample), sample.length, values.length, 64);
    expect(window).toBeDefined();
    selector.addHigh(highHistogram(values));
    selector.addWindow(lowCounts(values, window!));
    selector.endHigh();
    expect(selector.lowCounted).toBe(true);
    expect(selector.results().map((r) => r.value)).toEqual(ranks.map((rank) => Math.fround(sorted[rank]!)));
  });

  it('a window that misses the buckets leaves pass 2 to count, with the same results', () => {
    const selector = new MagnitudeRankSelector(ranks);
    const small = values.map((v) => v / 64); // a sample from another distribution: the wrong buckets
    const window = selector.chooseWindow(highHistogram(small), small.length, values.length, 64);
    expect(window).toBeDefined();
    selector.addHigh(highHistogram(values));
    selector.addWindow(lowCounts(values, window!));
    selector.endHigh();
    expect(selector.lowCounted).toBe(false);
    selector.observeLow(values);
    const results = selector.results();
    expect(results.map((r) => r.value)).toEqual(ranks.map((rank) => Math.fround(sorted[rank]!)));
    expect(results.map((r) => r.greater)).toEqual(
      ranks.map((rank) => sorted.filter((x) => x > sorted[rank]!).length),
    );
  });

  it('with only the window counted, finds the ranks from the count above it (no high bits, no pass 2)', () => {
    const selector = new MagnitudeRankSelector(ranks);
    const sample = values.subarray(0, 10_000);
    const window = selector.chooseWindow(highHistogram(sample), sample.length, values.length, 64)!;
    selector.addWindow(lowCounts(values, window));
    expect(selector.endHigh()).toBe(true);
    expect(selector.lowCounted).toBe(true);
    const results = selector.results();
    expect(results.map((r) => r.value)).toEqual(ranks.map((rank) => Math.fround(sorted[rank]!)));
    expect(results.map((r) => r.greater)).toEqual(
      ranks.map((rank) => sorted.filter((x) => x > sorted[rank]!).length),
    );
  });

  it('a window-only count that misses asks for the high bits, then counts as usual', () => {
    const selector = new MagnitudeRankSelector(ranks);
    const small = values.map((v) => v / 64);
    const window = selector.chooseWindow(highHistogram(small), small.length, values.length, 64)!;
    selector.addWindow(lowCounts(values, window));
    expect(selector.endHigh()).toBe(false);
    selector.addHigh(highHistogram(values));
    expect(selector.endHigh()).toBe(true);
    expect(selector.lowCounted).toBe(false);
    selector.observeLow(values);
    expect(selector.results().map((r) => r.value)).toEqual(ranks.map((rank) => Math.fround(sorted[rank]!)));
  });

  it('declines a window wider than maxBuckets', () => {
    const selector = new MagnitudeRankSelector(ranks);
    expect(selector.chooseWindow(highHistogram(values), values.length, values.length, 1)).toBeUndefined();
  });
});
