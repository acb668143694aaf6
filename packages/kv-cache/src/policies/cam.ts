import { z } from 'zod';
import type { KVHeadStore } from '../head-store';
import { defineKVPolicy } from '../policy';
import { evictedIndices, selectKept } from '../selection';

/**
 * CaM (Cache Merging), official rule (zyxxmu/cam, modify_llama_cam.py::local_cam_mask): keep the first
 * `startFraction` of the budget and the most recent tokens; each token leaving the cache, taken in
 * position order, is merged into the values of the next `mergeBudget` slots with probability
 * p = A[e] / mean(A[e+1 ..]) (clamped to [0, 1], NaN -> 0), a Bernoulli draw, adding V[e] / mergeBudget.
 * A is the latest query's attention row (`attention: 'last'`, the official rule) or the accumulated
 * attention (`'accumulated'`, as the repo's streaming variant and kvpress's CAMPress). Merged mass
 * cascades: a later-evicted slot carries what it received. Keys are untouched.
 * `selection: 'h2o'` keeps heavy hitters + recent instead of start + recent (CaM on top of H2O).
 */
export const camPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'cam',
  url: 'https://github.com/zyxxmu/cam',
  description:
    'Evict like StreamingLLM/H2O, but merge each evicted value into the following values with a Bernoulli draw.',
  parameters: z
    .object({
      selection: z.enum(['start_recent', 'h2o']).default('start_recent'),
      startFraction: z.number().min(0).max(1).default(0.5),
      mergeBudget: z.number().int().min(1).default(32),
      attention: z.enum(['last', 'accumulated']).default('last'),
      /** false keeps the selection but skips the merge (a diagnostic: what merging adds). */
      merge: z.boolean().default(true),
    })
    .strict(),
  statistics: (parameters) => ({
    lastAttention: parameters.attention === 'last',
    accumulatedAttention: parameters.attention === 'accumulated' || parameters.selection === 'h2o',
  }),
  create: (parameters) => ({
    compressLayer({ stores, target, random }) {
      for (const store of stores) {
        if (store.length <= target) continue;
        const kept =
          parameters.selection === 'h2o'
            ? selectKept(
                store.length,
                target,
                store.accumulatedAttention,
                0,
                target - Math.floor(target * 0.5),
              )
            : selectKept(
                store.length,
                target,
                undefined,
                Math.floor(target * parameters.startFraction),
                target - Math.floor(target * parameters.startFraction),
              );
        const scores = parameters.attention === 'last' ? store.lastAttention : store.accumulatedAttention;
        if (parameters.merge)
          camMerge(store, evictedIndices(store.length, kept), scores, parameters.mergeBudget, random);
        store.retain(kept);
      }
    },
  }),
});

/**
 * Merge each evicted slot (increasing order) into the next `mergeBudget` slots' values with
 * probability clamp(A[e] / mean(A[e+1 .. length-1])). Returns the draws' outcomes (1 = merged).
 */
export function camMerge(
  store: KVHeadStore,
  evicted: ArrayLike<number>,
  scores: ArrayLike<number> | undefined,
  mergeBudget: number,
  random: () => number,
): Uint8Array {
  const n = store.length;
  const d = store.headDim;
  const values = store.values;
  const merged = new Uint8Array(evicted.length);
  if (scores === undefined || n < 2) return merged;
  // suffix sums of the scores give mean(A[e+1 .. n-1]) in O(1)
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = (suffix[i + 1] as number) + (scores[i] as number);
  for (let k = 0; k < evicted.length; k++) {
    const e = evicted[k] as number;
    const after = n - 1 - e;
    if (after <= 0) continue;
    const mean = (suffix[e + 1] as number) / after;
    let probability = (scores[e] as number) / mean;
    if (!Number.isFinite(probability)) probability = 0;
    probability = Math.min(1, Math.max(0, probability));
    if (!(random() < probability)) continue;
    merged[k] = 1;
    const last = Math.min(n - 1, e + mergeBudget);
    const source = e * d;
    for (let j = e + 1; j <= last; j++) {
      const target = j * d;
      for (let c = 0; c < d; c++) {
        values[target + c] = (values[target + c] as number) + (values[source + c] as number) / mergeBudget;
      }
    }
  }
  return merged;
}
