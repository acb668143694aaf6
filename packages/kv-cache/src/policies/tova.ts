import { z } from 'zod';
import { defineKVPolicy } from '../policy';
import { selectKept } from '../selection';

/**
 * TOVA: keep the tokens the most recent query attends to most. The paper averages the last query's
 * attention over the layer's heads (layer-wise); `headwise: true` scores each KV head on its own.
 * The newest token is always kept (as kvpress's TOVAPress does).
 */
export const tovaPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'tova',
  url: 'https://arxiv.org/abs/2401.06104',
  description:
    "Keep the tokens with the highest attention from the latest query, averaged over the layer's heads.",
  parameters: z.object({ headwise: z.boolean().default(false) }).strict(),
  statistics: () => ({ lastAttention: true }),
  create: (parameters) => ({
    compressLayer({ stores, target }) {
      const first = stores[0];
      if (first === undefined) return;
      const sameLength = stores.every((store) => store.length === first.length);
      if (!parameters.headwise && sameLength) {
        if (first.length <= target) return;
        const scores = new Float64Array(first.length);
        for (const store of stores) {
          const last = store.lastAttention;
          if (last === undefined) continue;
          for (let i = 0; i < first.length; i++) scores[i] = (scores[i] as number) + (last[i] as number);
        }
        const kept = selectKept(first.length, target, scores, 0, 1);
        for (const store of stores) store.retain(kept);
        return;
      }
      for (const store of stores) {
        if (store.length <= target) continue;
        store.retain(selectKept(store.length, target, store.lastAttention, 0, 1));
      }
    },
  }),
});
