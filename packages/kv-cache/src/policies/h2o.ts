import { z } from 'zod';
import { defineKVPolicy } from '../policy';
import { selectKept } from '../selection';

/**
 * H2O: heavy hitters by attention accumulated over every query so far, plus a recent window.
 * The official scripts use heavy_ratio = recent_ratio = 0.1, i.e. the budget split evenly.
 */
export const h2oPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'h2o',
  url: 'https://arxiv.org/abs/2306.14048',
  description:
    'Heavy hitters (top accumulated attention) plus the most recent tokens; recentFraction of the budget goes to the recent window (official 0.1/0.1 split = 0.5).',
  parameters: z.object({ recentFraction: z.number().min(0).max(1).default(0.5) }).strict(),
  statistics: () => ({ accumulatedAttention: true }),
  create: (parameters) => ({
    compressLayer({ stores, target }) {
      const recent = Math.floor(target * parameters.recentFraction);
      for (const store of stores) {
        if (store.length <= target) continue;
        store.retain(selectKept(store.length, target, store.accumulatedAttention, 0, recent));
      }
    },
  }),
});
