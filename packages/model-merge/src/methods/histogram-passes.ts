// TIES' exact top-k learns its thresholds from two radix-histogram passes over τ = θ − θ0. On large
// tensors the row workers count them, one row range each (filling the delta cache on the way), and
// the per-range counts in the threshold's bin say how many threshold ties precede each range, so
// the final pass (split into the same ranges) needs no separate counting pass.
import type { RowWorkerPool } from '../row-workers';
import type { RawElements } from '../tensor-view';
import type { Sparsifier, SparsifierSpec } from './sparsify';

export interface HistogramPassInput {
  readonly pool: RowWorkerPool;
  readonly sparsifiers: readonly Sparsifier[];
  readonly base: RawElements | undefined;
  readonly models: readonly (RawElements | undefined)[];
  readonly cache: readonly Float32Array[] | undefined;
  readonly rowLength: number;
  readonly rowCount: number;
  readonly chunkElements: number;
}

/** Whether learning pass `pass` can run on the row workers (SIMD pool, histogram-only pass, shared inputs). */
export function histogramPassRunsOnWorkers(input: HistogramPassInput, pass: number): boolean {
  const { pool, sparsifiers, base, models, cache } = input;
  return (
    pool.simd &&
    pool.accepts(
      [base, ...models, ...(cache ?? []).map((array) => ({ dtype: 'f32' as const, array }))],
      base,
    ) &&
    sparsifiers.every(
      (sparsifier) => pass >= sparsifier.passes || sparsifier.histogramPass?.(pass) !== undefined,
    )
  );
}

/**
 * Runs learning pass `pass` on the row workers and adds the summed counts to every sparsifier still
 * learning; returns the per-range counts ([range][model][slot], arena memory: `release` them).
 */
export function runHistogramPass(
  input: HistogramPassInput,
  pass: 0 | 1,
  fillCache: boolean,
): Uint32Array[][][] {
  const { pool, sparsifiers } = input;
  const learning = sparsifiers.map((sparsifier) => pass < sparsifier.passes);
  const counted = pool.histograms({
    base: input.base!,
    models: input.models as RawElements[],
    ...(input.cache ? { cache: input.cache } : {}),
    fillCache,
    pass,
    buckets: sparsifiers.map((sparsifier, model) =>
      learning[model] ? (sparsifier.histogramPass!(pass)!.buckets ?? []) : [],
    ),
    rowLength: input.rowLength,
    rowCount: input.rowCount,
    chunkElements: input.chunkElements,
  });
  for (const [model, sparsifier] of sparsifiers.entries()) {
    if (!learning[model]) continue;
    const sums = counted[0]![model]!.map((first, slot) => {
      const sum = new Uint32Array(first);
      for (let range = 1; range < counted.length; range++) {
        const other = counted[range]![model]![slot]!;
        for (let bin = 0; bin < sum.length; bin++) sum[bin]! += other[bin]!;
      }
      return sum;
    });
    sparsifier.addHistograms!(pass, sums);
  }
  return counted;
}

/**
 * After pass 1 ran on the workers: per range, per model, the threshold ties in the rows before the
 * range (plus what the sparsifier had seen already); undefined when some top-k cannot say.
 */
export function tiesBeforeRanges(
  counted: Uint32Array[][][],
  sparsifiers: readonly Sparsifier[],
  specs: readonly (SparsifierSpec | undefined)[],
): number[][] | undefined {
  const bins = sparsifiers.map((sparsifier) => sparsifier.tieBin?.());
  const before = counted.map(() => specs.map((spec) => (spec?.kind === 'top' ? spec.seen : 0)));
  for (const [model, bin] of bins.entries()) {
    if (specs[model]?.kind !== 'top') continue;
    if (bin === undefined) return undefined;
    for (let range = 1; range < counted.length; range++)
      before[range]![model] =
        before[range - 1]![model]! + counted[range - 1]![model]![bin.histogram]![bin.bin]!;
  }
  return before;
}

/** Gives the per-range histograms back to the pool's arena. */
export function releaseHistograms(pool: RowWorkerPool, counted: Uint32Array[][][]): void {
  for (const models of counted)
    for (const slots of models) for (const histogram of slots) pool.releaseHistogram(histogram);
}
