// Deterministic batching: the sequence consumed at global index i is row perm_e[i mod N] of epoch
// e = ⌊i / N⌋, with perm_e a seeded permutation. A step's batch follows from its index alone, so a
// resumed run sees exactly the data an uninterrupted run would.

import type { PackedRow } from '../data/packing';
import type { TokenBatch } from '../model/train-forward';
import { SeededRandom } from '../random';

export class BatchPlan {
  private readonly permutations = new Map<number, number[]>();

  constructor(
    readonly rows: readonly PackedRow[],
    readonly seed: number,
  ) {}

  private permutation(epoch: number): number[] {
    let order = this.permutations.get(epoch);
    if (!order) {
      order = new SeededRandom((this.seed * 1_000_003 + epoch * 7919) >>> 0).permutation(this.rows.length);
      this.permutations.clear();
      this.permutations.set(epoch, order);
    }
    return order;
  }

  /** The row at global sequence index `index`, with its epoch and position in that epoch. */
  rowAt(index: number): { row: PackedRow; epoch: number; rowInEpoch: number } {
    const n = this.rows.length;
    const epoch = Math.floor(index / n);
    const rowInEpoch = index % n;
    return { row: this.rows[this.permutation(epoch)[rowInEpoch]], epoch, rowInEpoch };
  }

  /** `count` rows starting at global index `start`, stacked into one batch. */
  batch(start: number, count: number): { tokens: TokenBatch; targets: Int32Array; weights: Float32Array } {
    const seqLen = this.rows[0].inputIds.length;
    const inputIds = new Int32Array(count * seqLen);
    const positions = new Int32Array(count * seqLen);
    const documentStarts = new Int32Array(count * seqLen);
    const targets = new Int32Array(count * seqLen);
    const weights = new Float32Array(count * seqLen);
    for (let b = 0; b < count; b++) {
      const { row } = this.rowAt(start + b);
      const o = b * seqLen;
      inputIds.set(row.inputIds, o);
      positions.set(row.positions, o);
      for (let i = 0; i < seqLen; i++) documentStarts[o + i] = row.documentStarts[i];
      targets.set(row.targets, o);
      weights.set(row.weights, o);
    }
    return { tokens: { batch: count, seqLen, inputIds, positions, documentStarts }, targets, weights };
  }
}
