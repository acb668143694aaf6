import { z } from 'zod';
import { defineKVPolicy } from '../policy';
import { selectKept } from '../selection';

/**
 * SnapKV: score the prefix by the attention it gets from the last `window` queries of the prompt
 * (the observation window), smooth the scores with 1-D pooling, keep the top ones plus the window.
 * Defaults follow the official code (window 32, kernel 5, average pooling with zero padding).
 * During decoding the window statistic holds only the latest query row.
 */
export const snapKVPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'snapkv',
  url: 'https://arxiv.org/abs/2404.14469',
  description: 'Observation-window attention, pooled over neighbours; the window itself is always kept.',
  parameters: z
    .object({
      window: z.number().int().min(1).default(32),
      kernel: z.number().int().min(1).default(5),
      pooling: z.enum(['avg', 'max']).default('avg'),
    })
    .strict(),
  statistics: (parameters) => ({ observationWindow: parameters.window }),
  create: (parameters) => ({
    compressLayer({ stores, target }) {
      for (const store of stores) {
        if (store.length <= target) continue;
        const window = Math.min(parameters.window, store.length);
        const scores = poolScores(
          store.windowAttention,
          store.length - window,
          parameters.kernel,
          parameters.pooling,
        );
        store.retain(selectKept(store.length, target, scores, 0, window));
      }
    },
  }),
});

/** 1-D pooling over [0, prefix) with stride 1 and `kernel`/2 padding (zeros for avg, ignored for max). */
export function poolScores(
  scores: ArrayLike<number> | undefined,
  prefix: number,
  kernel: number,
  pooling: 'avg' | 'max',
): Float64Array {
  const out = new Float64Array(prefix);
  if (scores === undefined) return out;
  const half = Math.floor(kernel / 2);
  for (let i = 0; i < prefix; i++) {
    const from = Math.max(0, i - half);
    const to = Math.min(prefix - 1, i - half + kernel - 1);
    let sum = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = from; j <= to; j++) {
      const s = scores[j] as number;
      sum += s;
      if (s > max) max = s;
    }
    out[i] = pooling === 'avg' ? sum / kernel : max;
  }
  return out;
}
