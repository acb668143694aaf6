// The row workers' histogram passes must find exactly the top-k threshold a sort finds: with a
// window that holds it (one pass), with a window that misses (the high bits are counted after all,
// then pass 1) and with none; and the per-range tie counts must match a direct count.
import { encodeBf16 } from '@meld/tensor-core';
import { afterAll, describe, expect, it } from 'vitest';
import { MergeArena } from '../merge-arena';
import { RowWorkerPool } from '../row-workers';
import {
  type HistogramPassInput,
  releaseHistograms,
  runHistogramPass,
  tiesBeforeRanges,
} from './histogram-passes';
import { createSparsifier } from './sparsify';

const arena = MergeArena.create();
const rowCount = 300;
const rowLength = 1024;
const n = rowCount * rowLength;

function words(values: Float32Array): Uint16Array {
  const bytes = arena!.allocate(values.length * 2);
  bytes.set(encodeBf16(values));
  return new Uint16Array(bytes.buffer, bytes.byteOffset, values.length);
}

function decode(w: Uint16Array): Float32Array {
  const bits = Uint32Array.from(w, (x) => x << 16);
  return new Float32Array(bits.buffer);
}

function highHistogram(values: Float32Array): Uint32Array {
  const histogram = arena!.borrowHistogram();
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (const b of bits) histogram[(b & 0x7fffffff) >>> 16]!++;
  return histogram;
}

describe.skipIf(arena === undefined)('histogram passes on the row workers', () => {
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  const baseValues = Float32Array.from({ length: n }, () => random() * 0.05);
  const base = words(baseValues);
  // a fine-tune-like model: base plus small noise, stored in bf16, so τ is quantised and ties abound
  const model = words(Float32Array.from(baseValues, (x) => x + random() * 0.002));
  const b = decode(base);
  const tau = Float32Array.from(decode(model), (x, i) => x - b[i]!);
  const magnitudes = Array.from(tau, Math.abs).sort((x, y) => y - x);
  const k = Math.floor(0.5 * n);
  const threshold = magnitudes[k - 1]!;
  const greater = magnitudes.filter((x) => x > threshold).length;
  const pool = new RowWorkerPool(2, arena);
  afterAll(() => pool.close());

  for (const plan of ['right', 'wrong', 'none'] as const) {
    it(`finds the sort's threshold and per-range ties (window: ${plan})`, () => {
      const sparsifier = createSparsifier(
        'magnitude',
        { density: 0.5, gamma: 0, epsilon: 0, rescale: false, rescaleMode: 'l1', key: 1 },
        { size: n, rowLength },
      );
      const input: HistogramPassInput = {
        pool,
        sparsifiers: [sparsifier],
        base: { dtype: 'bf16', array: base },
        models: [{ dtype: 'bf16', array: model }],
        cache: undefined,
        rowLength,
        rowCount,
        chunkElements: 1 << 14,
      };
      if (plan !== 'none') {
        // a sample of every 16th element, or of values 64 times smaller (a window in the wrong place)
        const sample = tau.filter((_, i) => i % 16 === 0).map((x) => (plan === 'right' ? x : x / 64));
        const histogram = highHistogram(sample);
        sparsifier.planWindow!(histogram, sample.length, n);
        arena!.returnHistogram(histogram);
      }
      const first = runHistogramPass(input, 0, false);
      sparsifier.endPass(0);
      const missed = sparsifier.histogramPass!(0)!.high === true;
      if (missed) {
        releaseHistograms(pool, runHistogramPass(input, 0, false));
        sparsifier.endPass(0);
      }
      const second = sparsifier.histogramPass!(1)!.counted ? undefined : runHistogramPass(input, 1, false);
      sparsifier.endPass(1);
      expect(missed).toBe(plan === 'wrong');
      expect(second === undefined).toBe(plan === 'right');
      const spec = sparsifier.workerSpec!()!;
      expect(spec).toMatchObject({ kind: 'top', last: threshold, quota: k - greater, seen: 0 });
      const before = tiesBeforeRanges([first, second], [sparsifier], [spec])!;
      const ranges = pool.ranges(rowCount);
      let ties = 0;
      for (const [range, { rowStart, rowEnd }] of ranges.entries()) {
        expect(before[range]![0]).toBe(ties);
        for (let i = rowStart * rowLength; i < rowEnd * rowLength; i++)
          ties += +(Math.abs(tau[i]!) === threshold);
      }
      releaseHistograms(pool, first);
      if (second) releaseHistograms(pool, second);
    });
  }
});
