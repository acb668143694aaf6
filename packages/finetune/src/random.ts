// Training's seeded PRNG: tensor-core's mulberry32 (one 32-bit state, saved in checkpoints so a resumed
// run continues the same sequence) plus the shuffles the data loader needs.
import { Mulberry32 } from '@meld/tensor-core';

export class SeededRandom extends Mulberry32 {
  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }
}
