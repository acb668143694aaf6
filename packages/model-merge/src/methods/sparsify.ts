// Sparsification of task vectors τ = θ − θ0, one model at a time, over row chunks.
//  magnitude           keep the k = ⌊density·n⌋ largest |τ| (TIES)                mergekit sparsify.py::magnitude
//  magnitude_outliers  drop the top γ·n and the bottom n − k − γ·n (Model Breadcrumbs)  ::magnitude_outliers
//  bernoulli           keep each element with probability density (DARE)         ::bernoulli
//  della_magprune      per row, keep-probability (density−ε) + 2ε·rank/(len−1) (DELLA)  ::della_magprune
// Rescaling of what is kept: 'l1' (mergekit: restore the L1 norm of τ) or 'inverse_probability'
// (PEFT/DARE paper: divide by the keep probability, 1/density or 1/p_i for DELLA).
// Ties in magnitude are broken by element index (earlier wins), so results never depend on chunking.
import { ValidationError } from '@meld/tensor-core';
import { uniformAt } from '../random';
import { kthLargest } from '../select';

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

/** Visits every delta chunk in order: (values, elementOffset). */
export type DeltaChunks = (visit: (values: Float32Array, elementOffset: number) => void) => void;

export interface Sparsifier {
  /** Sparsifies (and rescales) `values` in place; chunks must arrive in element order. */
  apply(values: Float32Array, elementOffset: number): void;
}

const identity: Sparsifier = { apply() {} };

/** Keeps the elements whose descending-|x| rank (ties by index) lies in [low, high). */
class RankWindow {
  private readonly first: number; // magnitude at rank `low`
  private readonly last: number; // magnitude at rank `high - 1`
  private readonly greaterThanFirst: number;
  private readonly greaterThanLast: number;
  private seenFirst = 0;
  private seenLast = 0;
  readonly empty: boolean;

  constructor(scratch: Float32Array, low: number, high: number) {
    this.empty = high <= low;
    if (this.empty) {
      this.first = this.last = Number.POSITIVE_INFINITY;
      this.greaterThanFirst = this.greaterThanLast = 0;
      return;
    }
    this.first = kthLargest(scratch, low);
    this.last = kthLargest(scratch, high - 1);
    let greaterFirst = 0;
    let greaterLast = 0;
    for (let i = 0; i < scratch.length; i++) {
      const v = scratch[i]!;
      if (v > this.first) greaterFirst++;
      if (v > this.last) greaterLast++;
    }
    this.greaterThanFirst = greaterFirst;
    this.greaterThanLast = greaterLast;
    this.low = low;
    this.high = high;
  }
  private low = 0;
  private high = 0;

  reset(): void {
    this.seenFirst = 0;
    this.seenLast = 0;
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

function rankWindowSparsifier(
  chunks: DeltaChunks,
  size: number,
  scratch: Float32Array,
  low: number,
  high: number,
  rescale: boolean,
): Sparsifier {
  const magnitudes = scratch.subarray(0, size);
  chunks((values, offset) => {
    for (let i = 0; i < values.length; i++) magnitudes[offset + i] = Math.abs(values[i]!);
  });
  let oldNorm = 0;
  if (rescale) for (let i = 0; i < size; i++) oldNorm += magnitudes[i]!;
  const window = new RankWindow(magnitudes, Math.max(0, low), Math.min(size, high));
  let factor = 1;
  if (rescale) {
    // kept boundary elements share one magnitude, so the kept L1 norm does not depend on order
    let newNorm = 0;
    for (let i = 0; i < size; i++) if (window.keep(magnitudes[i]!)) newNorm += magnitudes[i]!;
    window.reset();
    factor = l1Factor(oldNorm, newNorm);
  }
  return {
    apply(values) {
      for (let i = 0; i < values.length; i++) {
        values[i] = window.keep(Math.abs(values[i]!)) ? values[i]! * factor : 0;
      }
    },
  };
}

/** Ranks (0-based, ascending |x|, ties by index) of one row, normalised to [0, 1]. */
function normalisedRowRanks(row: Float32Array, keys: Float64Array, ranks: Float32Array): void {
  const n = row.length;
  const bits = new Uint32Array(1);
  const floats = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    floats[0] = Math.abs(row[i]!);
    keys[i] = bits[0]! * n + i; // exact below 2^53 for rows up to 2^21 elements
  }
  const sorted = keys.subarray(0, n).sort();
  for (let r = 0; r < n; r++) {
    const index = sorted[r]! % n;
    ranks[index] = n > 1 ? r / (n - 1) : 0.5;
  }
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

export function prepareSparsifier(
  method: SparsificationMethod,
  options: SparsifyOptions,
  chunks: DeltaChunks,
  geometry: { size: number; rowLength: number },
  scratch: () => Float32Array,
): Sparsifier {
  const { density, key } = options;
  const { size, rowLength } = geometry;
  if (method === 'none' || density >= 1) return identity;
  if (method === 'magnitude') {
    const k = Math.floor(density * size);
    return rankWindowSparsifier(chunks, size, scratch(), 0, k, options.rescale);
  }
  if (method === 'magnitude_outliers') {
    const target = Math.floor(density * size);
    let top = Math.floor(options.gamma * size);
    let bottom = size - target - top;
    if (bottom < 0) {
      bottom = 0;
      top = size - target;
    }
    return rankWindowSparsifier(chunks, size, scratch(), top, size - bottom, options.rescale);
  }
  if (method === 'bernoulli') {
    let factor = 1;
    if (options.rescale && options.rescaleMode === 'inverse_probability')
      factor = density > 0 ? 1 / density : 0;
    if (options.rescale && options.rescaleMode === 'l1') {
      let oldNorm = 0;
      let newNorm = 0;
      chunks((values, offset) => {
        for (let i = 0; i < values.length; i++) {
          const a = Math.abs(values[i]!);
          oldNorm += a;
          if (uniformAt(key, offset + i) < density) newNorm += a;
        }
      });
      factor = l1Factor(oldNorm, newNorm);
    }
    return {
      apply(values, offset) {
        for (let i = 0; i < values.length; i++) {
          values[i] = uniformAt(key, offset + i) < density ? values[i]! * factor : 0;
        }
      },
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
  let factor = 1;
  if (options.rescale && options.rescaleMode === 'l1') {
    let oldNorm = 0;
    let newNorm = 0;
    chunks((values, offset) => {
      for (let start = 0; start < values.length; start += rowLength) {
        probabilities(values, start, (index, p) => {
          const a = Math.abs(values[index]!);
          oldNorm += a;
          if (uniformAt(key, offset + index) < p) newNorm += a;
        });
      }
    });
    factor = l1Factor(oldNorm, newNorm);
  }
  return {
    apply(values, offset) {
      const kept = new Float32Array(values.length);
      for (let start = 0; start < values.length; start += rowLength) {
        probabilities(values, start, (index, p) => {
          if (uniformAt(key, offset + index) < p)
            kept[index] = inverse ? values[index]! / p : values[index]! * factor;
        });
      }
      values.set(kept);
    },
  };
}
