// Sparsification of task vectors τ = θ − θ0, one model at a time, over row chunks.
//  magnitude           keep the k = ⌊density·n⌋ largest |τ| (TIES)                mergekit sparsify.py::magnitude
//  magnitude_outliers  drop the top γ·n and the bottom n − k − γ·n (Model Breadcrumbs)  ::magnitude_outliers
//  bernoulli           keep each element with probability density (DARE)         ::bernoulli
//  della_magprune      per row, keep-probability (density−ε) + 2ε·rank/(len−1) (DELLA)  ::della_magprune
// Rescaling of what is kept: 'l1' (mergekit: restore the L1 norm of τ) or 'inverse_probability'
// (PEFT/DARE paper: divide by the keep probability, 1/density or 1/p_i for DELLA).
// Ties in magnitude are broken by element index (earlier wins), so results never depend on chunking.
import { ValidationError } from '@meld/tensor-core';
import { arenaOf } from '../merge-arena';
import { MagnitudeRankSelector } from '../radix-select';
import { applyBernoulli, applyDella, normalisedRowRanks, uniformAt } from '../random';

export type SparsificationMethod =
  | 'none'
  | 'magnitude'
  | 'magnitude_outliers'
  | 'bernoulli'
  | 'della_magprune';
export type RescaleMode = 'l1' | 'inverse_probability';

export interface SparsifyOptions {
  readonly density: number;
  readonly gamma: number;
  readonly epsilon: number;
  readonly rescale: boolean;
  readonly rescaleMode: RescaleMode;
  /** Random stream key for this (tensor, model). */
  readonly key: number;
}

/**
 * A sparsifier learns what it needs in `passes` streaming passes over the delta chunks (all
 * models advance in lockstep, so the base is decoded once per chunk), then `apply` runs in the
 * merge pass. Chunks always arrive in element order.
 */
export interface Sparsifier {
  readonly passes: number;
  observe(pass: number, values: Float32Array, elementOffset: number): void;
  endPass(pass: number): void;
  /** Sparsifies (and rescales) `values` in place. */
  apply(values: Float32Array, elementOffset: number): void;
  /** What `apply` does from here on, as plain data for row workers; undefined: not parallelisable. */
  workerSpec?(): SparsifierSpec | undefined;
  /**
   * When learning pass `pass` only counts |τ| into radix histograms (TIES' exact top-k), what row
   * workers count for it: the high-bit histogram (pass 0, no buckets) or one low-bit histogram per
   * bucket (pass 1). Undefined: the pass must see the chunks itself.
   */
  histogramPass?(pass: number): HistogramPassSpec | undefined;
  /**
   * Before pass 0 on the row workers: the high-bits histogram of a sample of `sampleSize` of the
   * tensor's `total` elements, from which pass 0 learns which buckets to count low bits of too.
   */
  planWindow?(sample: Uint32Array, sampleSize: number, total: number): void;
  /**
   * Adds what row workers counted for `pass` (summed over workers): pass 0 [high, window] (either
   * undefined when not counted), pass 1 one histogram per bucket.
   */
  addHistograms?(pass: number, histograms: readonly (Uint32Array | undefined)[]): void;
  /**
   * After the learning passes of a plain top-k: which histogram of the last pass that counted and
   * which bin hold the elements equal to the threshold, so each row range's ties are known without
   * a counting pass.
   */
  tieBin?(): TieBin | undefined;
}

/** Where the row workers' per-range histograms count the elements equal to a top-k threshold. */
export interface TieBin {
  /** The learning pass that counted them (0: its window; 1). */
  readonly pass: number;
  /** The histogram slot in that pass's counts, and the bin in it. */
  readonly histogram: number;
  readonly bin: number;
}

/** What row workers count in a histogram pass. */
export interface HistogramPassSpec {
  /** Pass 1: the high buckets whose low bits to count. */
  readonly buckets?: readonly number[];
  /** Pass 0: count the high bits of |τ| (every bucket). */
  readonly high?: boolean;
  /**
   * Pass 0: count the low bits of these buckets and how many elements lie above them; when the
   * wanted ranks fall inside, neither the high bits nor pass 1 are needed.
   */
  readonly window?: { readonly low: number; readonly count: number };
  /** Pass 1: already counted in pass 0's window; nothing to run. */
  readonly counted?: boolean;
}

/** A sparsifier's apply step as data (row workers run applyTopK / applyBernoulli with it). */
export type SparsifierSpec =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'top';
      readonly last: number;
      readonly quota: number;
      readonly seen: number;
      readonly factor: number;
    }
  | { readonly kind: 'bernoulli'; readonly key: number; readonly density: number; readonly factor: number }
  | {
      readonly kind: 'della';
      readonly key: number;
      readonly density: number;
      readonly epsilon: number;
      readonly factor: number;
      readonly inverse: boolean;
    };

/**
 * Top-k keep in place: |x| > last, and the first (quota − seen) elements equal to it; returns the
 * updated count of threshold-equal elements seen. Branch-free: magnitudes at the threshold are
 * common and unpredictable (bf16 deltas tie).
 */
export function applyTopK(
  values: Float32Array,
  last: number,
  quota: number,
  seenBefore: number,
  factor: number,
): number {
  let seen = seenBefore;
  const f = Math.fround(factor); // f32 arithmetic, as the SIMD kernel's
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const a = Math.abs(v);
    const greater = +(a > last);
    const equal = +(a === last);
    const kept = greater + equal * +(seen < quota); // the two cases exclude each other
    seen += equal;
    values[i] = kept * Math.fround(v * f);
  }
  return seen;
}

/** Elements |x| === last in values (how many threshold ties a row range holds). */
export function countEqualMagnitude(values: Float32Array, last: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) count += +(Math.abs(values[i]!) === last);
  return count;
}

const identity: Sparsifier = {
  passes: 0,
  observe() {},
  endPass() {},
  apply() {},
  workerSpec: () => ({ kind: 'none' }),
};

const floatBits = new Float32Array(1);
const bitsOfFloat = new Uint32Array(floatBits.buffer);

/** Keeps the elements whose descending-|x| rank (ties by index) lies in [low, high). */
class RankWindow {
  private first = Number.POSITIVE_INFINITY; // magnitude at rank `low`
  private last = Number.POSITIVE_INFINITY; // magnitude at rank `high - 1`
  private greaterThanFirst = 0;
  private greaterThanLast = 0;
  private seenFirst = 0;
  private seenLast = 0;
  readonly empty: boolean;
  private readonly selector: MagnitudeRankSelector;
  /** Row workers' pass 0: what has been counted, and whether the window missed. */
  private highCounted = false;
  private windowCounted = false;
  private windowMissed = false;

  constructor(
    private readonly low: number,
    private readonly high: number,
  ) {
    this.empty = high <= low;
    this.selector = new MagnitudeRankSelector(this.empty ? [] : low > 0 ? [low, high - 1] : [high - 1]);
  }

  observe(pass: number, values: Float32Array): void {
    if (this.empty) return;
    if (pass === 0) this.selector.observeHigh(values);
    else this.selector.observeLow(values);
  }

  histogramPass(pass: number): HistogramPassSpec | undefined {
    if (this.empty || pass > 1) return undefined;
    if (pass === 1) return { buckets: this.selector.lowBuckets, counted: this.selector.lowCounted };
    // pass 0: the window first (when one was planned), the high bits only when it missed
    const window = this.windowCounted ? undefined : this.selector.countedWindow;
    return {
      high: !this.highCounted && (this.windowMissed || this.selector.countedWindow === undefined),
      ...(window ? { window } : {}),
    };
  }

  planWindow(sample: Uint32Array, sampleSize: number, total: number): void {
    if (!this.empty) this.selector.chooseWindow(sample, sampleSize, total);
  }

  addHistograms(pass: number, histograms: readonly (Uint32Array | undefined)[]): void {
    if (pass === 0) {
      if (histograms[0]) {
        this.selector.addHigh(histograms[0]);
        this.highCounted = true;
      }
      if (histograms[1]) {
        this.selector.addWindow(histograms[1]);
        this.windowCounted = true;
      }
    } else for (const [rank, counts] of histograms.entries()) this.selector.addLow(rank, counts!);
  }

  tieBin(): TieBin | undefined {
    if (this.empty || this.low !== 0 || Number.isNaN(this.last)) return undefined;
    floatBits[0] = this.last;
    const bits = bitsOfFloat[0]!;
    const window = this.selector.countedWindow;
    // counted in pass 0's window (slot 1, one 65536-bin block per bucket), else in pass 1 (slot 0)
    if (this.selector.lowCounted && window)
      return { pass: 0, histogram: 1, bin: ((bits >>> 16) - window.low) * 65536 + (bits & 0xffff) };
    return { pass: 1, histogram: 0, bin: bits & 0xffff };
  }

  endPass(pass: number): void {
    if (this.empty) return;
    if (pass === 0) {
      // a window that missed a wanted rank: pass 0 must count the high bits after all
      this.windowMissed = !this.selector.endHigh();
      return;
    }
    const results = this.selector.results();
    const last = results.at(-1)!;
    this.last = last.value;
    this.greaterThanLast = last.greater;
    if (this.low > 0) {
      this.first = results[0]!.value;
      this.greaterThanFirst = results[0]!.greater;
    }
  }

  reset(): void {
    this.seenFirst = 0;
    this.seenLast = 0;
  }

  /** values[i] ← keep(|values[i]|) ? values[i]·factor : 0, with the common cases decided inline. */
  applyInPlace(values: Float32Array, factor: number): void {
    if (this.empty) {
      values.fill(0);
      return;
    }
    const first = this.first;
    const last = this.last;
    if (this.low === 0) {
      // top-k (TIES): keep |x| > last, and the first (high − #greater) elements equal to it
      const quota = this.high - this.greaterThanLast;
      const arena = arenaOf(values);
      this.seenLast = arena
        ? arena.applyTopK(values, last, quota, this.seenLast, factor)
        : applyTopK(values, last, quota, this.seenLast, factor);
      return;
    }
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const a = v < 0 ? -v : v;
      if (a < first && a > last) values[i] = v * factor;
      else if (a > first || a < last) values[i] = 0;
      else values[i] = this.keep(a) ? v * factor : 0;
    }
  }

  /** The top-k apply as data, when this window is a plain top-k (low 0, not empty). */
  topSpec(factor: number): SparsifierSpec | undefined {
    if (this.empty || this.low !== 0) return undefined;
    return {
      kind: 'top',
      last: this.last,
      quota: this.high - this.greaterThanLast,
      seen: this.seenLast,
      factor,
    };
  }

  keep(magnitude: number): boolean {
    if (this.empty) return false;
    if (magnitude < this.first && magnitude > this.last) return true;
    if (magnitude > this.first || magnitude < this.last) return false;
    // on a boundary value: its rank is (count strictly greater) + (equal ones seen before it)
    let rank: number;
    if (magnitude === this.first) {
      rank = this.greaterThanFirst + this.seenFirst++;
      if (magnitude === this.last) this.seenLast++;
    } else {
      rank = this.greaterThanLast + this.seenLast++;
    }
    return rank >= this.low && rank < this.high;
  }
}

function l1Factor(oldNorm: number, newNorm: number): number {
  return newNorm > 1e-7 ? oldNorm / newNorm : 1;
}

function rankWindowSparsifier(low: number, high: number, rescale: boolean): Sparsifier {
  const window = new RankWindow(low, high);
  let oldNorm = 0;
  let newNorm = 0;
  let factor = 1;
  return {
    passes: rescale ? 3 : 2,
    observe(pass, values) {
      if (pass < 2) window.observe(pass, values);
      else {
        // kept L1 norm: a dry run of the same decisions
        for (let i = 0; i < values.length; i++) {
          const a = Math.abs(values[i]!);
          oldNorm += a;
          if (window.keep(a)) newNorm += a;
        }
      }
    },
    endPass(pass) {
      if (pass < 2) window.endPass(pass);
      else {
        window.reset();
        factor = l1Factor(oldNorm, newNorm);
      }
    },
    apply(values) {
      window.applyInPlace(values, factor);
    },
    workerSpec: () => window.topSpec(factor),
    histogramPass: (pass) => window.histogramPass(pass),
    planWindow: (sample, sampleSize, total) => window.planWindow(sample, sampleSize, total),
    addHistograms: (pass, histograms) => window.addHistograms(pass, histograms),
    tieBin: () => window.tieBin(),
  };
}

function dellaProbabilities(rowLength: number, density: number, epsilon: number) {
  const keys = new Float64Array(rowLength);
  const ranks = new Float32Array(rowLength);
  return (
    values: Float32Array,
    rowStartInChunk: number,
    visit: (index: number, probability: number) => void,
  ) => {
    const row = values.subarray(rowStartInChunk, rowStartInChunk + rowLength);
    normalisedRowRanks(row, keys, ranks);
    for (let i = 0; i < rowLength; i++)
      visit(rowStartInChunk + i, density - epsilon + 2 * epsilon * ranks[i]!);
  };
}

export function createSparsifier(
  method: SparsificationMethod,
  options: SparsifyOptions,
  geometry: { size: number; rowLength: number },
): Sparsifier {
  const { density, key } = options;
  const { size, rowLength } = geometry;
  if (method === 'none' || density >= 1) return identity;
  if (method === 'magnitude') return rankWindowSparsifier(0, Math.floor(density * size), options.rescale);
  if (method === 'magnitude_outliers') {
    const target = Math.floor(density * size);
    let top = Math.floor(options.gamma * size);
    let bottom = size - target - top;
    if (bottom < 0) {
      bottom = 0;
      top = size - target;
    }
    return rankWindowSparsifier(top, size - bottom, options.rescale);
  }
  const l1 = options.rescale && options.rescaleMode === 'l1';
  let oldNorm = 0;
  let newNorm = 0;
  let factor = 1;
  if (method === 'bernoulli') {
    if (options.rescale && options.rescaleMode === 'inverse_probability')
      factor = density > 0 ? 1 / density : 0;
    return {
      passes: l1 ? 1 : 0,
      observe(_pass, values, offset) {
        for (let i = 0; i < values.length; i++) {
          const a = Math.abs(values[i]!);
          oldNorm += a;
          if (uniformAt(key, offset + i) < density) newNorm += a;
        }
      },
      endPass() {
        factor = l1Factor(oldNorm, newNorm);
      },
      apply(values, offset) {
        applyBernoulli(values, offset, key, density, factor);
      },
      workerSpec: () => ({ kind: 'bernoulli', key, density, factor }),
    };
  }
  // della_magprune
  const { epsilon } = options;
  if (density - epsilon <= 0 || density + epsilon > 1) {
    throw new ValidationError(
      'epsilon',
      `della needs 0 < density − epsilon and density + epsilon <= 1 (density ${density}, epsilon ${epsilon})`,
    );
  }
  const probabilities = dellaProbabilities(rowLength, density, epsilon);
  const inverse = options.rescale && options.rescaleMode === 'inverse_probability';
  return {
    passes: l1 ? 1 : 0,
    observe(_pass, values, offset) {
      for (let start = 0; start < values.length; start += rowLength) {
        probabilities(values, start, (index, p) => {
          const a = Math.abs(values[index]!);
          oldNorm += a;
          if (uniformAt(key, offset + index) < p) newNorm += a;
        });
      }
    },
    endPass() {
      factor = l1Factor(oldNorm, newNorm);
    },
    apply(values, offset) {
      applyDella(values, offset, rowLength, key, density, epsilon, factor, inverse);
    },
    workerSpec: () => ({ kind: 'della', key, density, epsilon, factor, inverse }),
  };
}
