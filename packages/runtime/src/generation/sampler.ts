// Token sampling: repetition penalty -> temperature -> top-k -> softmax -> top-p -> min-p -> draw.
// Temperature 0 is greedy (argmax, first index on ties, as llama2.c). The RNG is llama2.c's
// xorshift*, so a seed gives the same draws on every platform.
import { argmax } from '@meld/tensor-core';
import { z } from 'zod';

export const samplingOptionsSchema = z.object({
  temperature: z.number().min(0).default(1),
  topK: z.number().int().min(0).optional(),
  topP: z.number().gt(0).max(1).optional(),
  minP: z.number().min(0).max(1).optional(),
  repetitionPenalty: z.number().positive().optional(),
  seed: z.number().int().optional(),
});
export type SamplingOptions = z.input<typeof samplingOptionsSchema>;

export class XorShiftRandom {
  private state: bigint;
  constructor(seed: number) {
    this.state = BigInt.asUintN(64, BigInt(seed === 0 ? 0x9e3779b9 : seed));
  }
  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = BigInt.asUintN(64, s ^ (s << 25n));
    s ^= s >> 27n;
    this.state = s;
    return Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 32n);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

export class Sampler {
  private readonly options: z.output<typeof samplingOptionsSchema>;
  private readonly random: XorShiftRandom;

  constructor(options: SamplingOptions = {}) {
    this.options = samplingOptionsSchema.parse(options);
    this.random = new XorShiftRandom(this.options.seed ?? Date.now() % 2 ** 31);
  }

  /** Picks the next token from `logits` (modified in place); `history` feeds the repetition penalty. */
  sample(logits: Float32Array, history: readonly number[] = []): number {
    const { temperature, topK, topP, minP, repetitionPenalty } = this.options;
    if (repetitionPenalty !== undefined && repetitionPenalty !== 1) {
      for (const token of new Set(history)) {
        const value = logits[token]!;
        logits[token] = value > 0 ? value / repetitionPenalty : value * repetitionPenalty;
      }
    }
    if (temperature === 0) return argmax(logits);
    let candidates = Array.from({ length: logits.length }, (_, i) => i).sort(
      (a, b) => logits[b]! - logits[a]! || a - b,
    );
    if (topK !== undefined && topK > 0) candidates = candidates.slice(0, topK);
    const max = logits[candidates[0]!]! / temperature;
    let probabilities = candidates.map((token) => Math.exp(logits[token]! / temperature - max));
    const total = probabilities.reduce((a, b) => a + b, 0);
    probabilities = probabilities.map((p) => p / total);
    let keep = candidates.length;
    if (topP !== undefined && topP < 1) {
      let cumulative = 0;
      for (let i = 0; i < candidates.length; i++) {
        cumulative += probabilities[i]!;
        if (cumulative >= topP) {
          keep = i + 1;
          break;
        }
      }
    }
    if (minP !== undefined && minP > 0) {
      const threshold = probabilities[0]! * minP;
      let count = 0;
      while (count < keep && probabilities[count]! >= threshold) count++;
      keep = Math.max(1, count);
    }
    let mass = 0;
    for (let i = 0; i < keep; i++) mass += probabilities[i]!;
    const r = this.random.next() * mass;
    let cdf = 0;
    for (let i = 0; i < keep; i++) {
      cdf += probabilities[i]!;
      if (r < cdf) return candidates[i]!;
    }
    return candidates[keep - 1]!;
  }
}
