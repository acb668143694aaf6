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

/** Whether every sparsifier still learning had pass `pass` counted already (pass 0's window held its buckets). */
export function histogramPassCounted(sparsifiers: readonly Sparsifier[], pass: number): boolean {
  return sparsifiers.every(
    (sparsifier) => pass >= sparsifier.passes || sparsifier.histogramPass?.(pass)?.counted === true,
  );
}

/** Whether learning pass `pass` can run on the row workers (SIMD pool, histogram-only pass, shared inputs). */
export function histogramPassRunsOnWorkers(input: HistogramPassInput, pass: number): boolean {
  const { pool, sparsifiers, base, models, cache } = input;
  const inArena = (elements: RawElements | undefined) =>
    elements !== undefined && pool.arena?.owns(elements.array) === true;
  return (
    pool.simd &&
    inArena(base) &&
    models.every(inArena) &&
    pool.accepts(
      [base, ...models, ...(cache ?? []).map((array) => ({ dtype: 'f32' as const, array }))],
      base,
    ) &&
    sparsifiers.every(
      (sparsifier) => pass >= sparsifier.passes || sparsifier.histogramPass?.(pass) !== undefined,
    )
  );
}

/** Rows spread evenly over the tensor, about `elements` of them in all (the window sample). */
function sampleRows(rowCount: number, rowLength: number, elements: number): number[] {
  const count = Math.min(rowCount, Math.max(1, Math.ceil(elements / Math.max(1, rowLength))));
  return Array.from({ length: count }, (_, index) => Math.floor(((index + 0.5) * rowCount) / count));
}

/**
 * Before pass 0: each top-k sparsifier picks, from the high-bits histogram of about 64K sampled
 * deltas, the buckets pass 0 should count low bits of too, so that pass 1 is usually skipped.
 * `delta(model, row)` gives one row of τ in the pool's arena.
 */
export function planWindows(
  input: HistogramPassInput,
  delta: (model: number, row: number) => Float32Array,
): void {
  const arena = input.pool.arena;
  if (arena === undefined) return;
  const rows = sampleRows(input.rowCount, input.rowLength, 1 << 16);
  const total = input.rowCount * input.rowLength;
  for (const [model, sparsifier] of input.sparsifiers.entries()) {
    if (sparsifier.planWindow === undefined || sparsifier.passes < 2) continue;
    const histogram = arena.borrowHistogram();
    for (const row of rows) {
      const values = delta(model, row);
      arena.kernels.histHigh(histogram.byteOffset, values.byteOffset, values.length);
    }
    sparsifier.planWindow(histogram, rows.length * input.rowLength, total);
    arena.returnHistogram(histogram);
  }
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
  const specs = sparsifiers.map((sparsifier) =>
    pass < sparsifier.passes ? sparsifier.histogramPass?.(pass) : undefined,
  );
  // what each model counts: pass 0 the high bits and/or its window, pass 1 its buckets (unless
  // pass 0's window counted them already)
  const learning = specs.map((spec) =>
    spec === undefined
      ? false
      : pass === 0
        ? spec.high === true || spec.window !== undefined
        : spec.counted !== true,
  );
  const counted = pool.histograms({
    base: input.base!,
    models: input.models as RawElements[],
    ...(input.cache ? { cache: input.cache } : {}),
    fillCache,
    pass,
    buckets: specs.map((spec, model) => (learning[model] && pass === 1 ? (spec!.buckets ?? []) : [])),
    highs: specs.map((spec, model) => learning[model] && pass === 0 && spec!.high === true),
    windows: specs.map((spec, model) => (learning[model] && pass === 0 ? spec!.window : undefined)),
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
    if (pass === 0) sparsifier.addHistograms!(0, [specs[model]!.high ? sums[0] : undefined, sums[1]]);
    else sparsifier.addHistograms!(1, sums);
  }
  return counted;
}

/**
 * After the learning passes ran on the workers (`counts[pass]`: per range, per model, per slot):
 * per range, per model, the threshold ties in the rows before the range (plus what the sparsifier
 * had seen already); undefined when some top-k cannot say.
 */
export function tiesBeforeRanges(
  counts: readonly (Uint32Array[][][] | undefined)[],
  sparsifiers: readonly Sparsifier[],
  specs: readonly (SparsifierSpec | undefined)[],
): number[][] | undefined {
  const ranges = counts.find((pass) => pass !== undefined)?.length ?? 0;
  const before = Array.from({ length: ranges }, () =>
    specs.map((spec) => (spec?.kind === 'top' ? spec.seen : 0)),
  );
  for (const [model, sparsifier] of sparsifiers.entries()) {
    if (specs[model]?.kind !== 'top') continue;
    const bin = sparsifier.tieBin?.();
    const counted = bin && counts[bin.pass];
    if (bin === undefined || counted === undefined) return undefined;
    for (let range = 1; range < ranges; range++)
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
