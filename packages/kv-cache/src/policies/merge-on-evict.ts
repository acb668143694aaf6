import { z } from 'zod';
import type { KVHeadStore } from '../head-store';
import { defineKVPolicy } from '../policy';
import { evictedIndices, selectKept } from '../selection';

const EPSILON = 1e-6;

/**
 * Merge-on-evict (kvpress MergingPress): a base rule picks the survivors; each evicted token's value is
 * folded into the survivor whose key is most cosine-similar, with weight
 * w = max(sim, 0) * |v_e| / (|v_e| + |v_t| + eps), and each touched survivor becomes
 * (v_t + sum w v_e) / (1 + sum w). Keys are kept as they are. `similarityThreshold` gates merges and
 * `mergeFraction` keeps only the most similar fraction of them.
 */
export const mergeOnEvictPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'merge_on_evict',
  url: 'https://github.com/NVIDIA/kvpress/blob/main/kvpress/presses/merging_press.py',
  description:
    "Fold each evicted value into the most similar kept key's value (kvpress MergingPress) on top of a base rule.",
  parameters: z
    .object({
      base: z.enum(['h2o', 'streaming_llm', 'knorm']).default('h2o'),
      similarityThreshold: z.number().min(0).max(1).default(0),
      mergeFraction: z.number().gt(0).max(1).default(1),
      sinks: z.number().int().min(0).default(4),
      recentFraction: z.number().min(0).max(1).default(0.5),
    })
    .strict(),
  statistics: (parameters) => ({ accumulatedAttention: parameters.base === 'h2o' }),
  create: (parameters) => ({
    compressLayer({ stores, target }) {
      for (const store of stores) {
        if (store.length <= target) continue;
        const kept = baseSelection(store, target, parameters);
        mergeIntoNearest(store, kept, parameters.similarityThreshold, parameters.mergeFraction);
        store.retain(kept);
      }
    },
  }),
});

function baseSelection(
  store: KVHeadStore,
  target: number,
  parameters: { base: 'h2o' | 'streaming_llm' | 'knorm'; sinks: number; recentFraction: number },
): Int32Array {
  const n = store.length;
  if (parameters.base === 'streaming_llm') return selectKept(n, target, undefined, parameters.sinks, target);
  if (parameters.base === 'h2o') {
    return selectKept(
      n,
      target,
      store.accumulatedAttention,
      0,
      Math.floor(target * parameters.recentFraction),
    );
  }
  // knorm: keep the keys with the smallest norm (kvpress KnormPress scores -|k|)
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const key = store.key(i);
    let squared = 0;
    for (const x of key) squared += x * x;
    scores[i] = -Math.sqrt(squared);
  }
  return selectKept(n, target, scores, 0, 0);
}

/** Fold evicted values (the complement of `kept`) into their most similar kept slots, in place. */
export function mergeIntoNearest(
  store: KVHeadStore,
  kept: ArrayLike<number>,
  similarityThreshold: number,
  mergeFraction: number,
): void {
  const n = store.length;
  const d = store.headDim;
  const evicted = evictedIndices(n, kept);
  if (evicted.length === 0 || kept.length === 0) return;
  // Norms are computed once, lazily: kept key norms inside the first search pass, value norms only
  // for the slots a merge touches (one pass over the cache per compression, not three).
  const keys = store.keys;
  const values = store.values;
  const keyNorm = new Float64Array(n).fill(-1);
  const valueNorm = new Float64Array(n).fill(-1);
  const norm = (array: Float32Array, cache: Float64Array, i: number): number => {
    let value = cache[i] as number;
    if (value < 0) {
      let squared = 0;
      for (let c = i * d; c < (i + 1) * d; c++) squared += (array[c] as number) ** 2;
      value = Math.sqrt(squared);
      cache[i] = value;
    }
    return value;
  };
  const bestSimilarity = new Float64Array(evicted.length);
  const bestTarget = new Int32Array(evicted.length);
  for (let e = 0; e < evicted.length; e++) {
    const source = (evicted[e] as number) * d;
    const sourceNorm = Math.max(EPSILON, norm(keys, keyNorm, evicted[e] as number));
    let best = Number.NEGATIVE_INFINITY;
    let bestIndex = 0;
    for (let k = 0; k < kept.length; k++) {
      const t = kept[k] as number;
      const offset = t * d;
      let dot = 0;
      let targetNorm = keyNorm[t] as number;
      if (targetNorm < 0) {
        let squared = 0;
        for (let c = 0; c < d; c++) {
          const x = keys[offset + c] as number;
          dot += (keys[source + c] as number) * x;
          squared += x * x;
        }
        targetNorm = Math.sqrt(squared);
        keyNorm[t] = targetNorm;
      } else {
        for (let c = 0; c < d; c++) dot += (keys[source + c] as number) * (keys[offset + c] as number);
      }
      const similarity = dot / (sourceNorm * Math.max(EPSILON, targetNorm));
      if (similarity > best) {
        best = similarity;
        bestIndex = t;
      }
    }
    bestSimilarity[e] = best;
    bestTarget[e] = bestIndex;
  }
  let cutoff = similarityThreshold;
  if (mergeFraction < 1) {
    const passing = Array.from(bestSimilarity).filter((s) => s >= similarityThreshold);
    if (passing.length > 0) cutoff = Math.max(cutoff, quantile(passing, 1 - mergeFraction));
  }
  // Only touched survivors get an accumulator (decode steps evict one or a few tokens).
  const accumulated = new Map<number, { value: Float64Array; weight: number }>();
  for (let e = 0; e < evicted.length; e++) {
    const similarity = bestSimilarity[e] as number;
    if (similarity < cutoff) continue;
    const source = evicted[e] as number;
    const t = bestTarget[e] as number;
    const sourceNorm = norm(values, valueNorm, source);
    const w = (Math.max(similarity, 0) * sourceNorm) / (sourceNorm + norm(values, valueNorm, t) + EPSILON);
    let entry = accumulated.get(t);
    if (entry === undefined) {
      entry = { value: new Float64Array(d), weight: 0 };
      accumulated.set(t, entry);
    }
    const value = store.value(source);
    for (let c = 0; c < d; c++) entry.value[c] = (entry.value[c] as number) + w * (value[c] as number);
    entry.weight += w;
  }
  for (const [t, entry] of accumulated) {
    if (!(entry.weight > 0)) continue;
    const value = store.value(t);
    for (let c = 0; c < d; c++)
      value[c] = ((value[c] as number) + (entry.value[c] as number)) / (1 + entry.weight);
  }
}

/** Linear-interpolated quantile, as torch.quantile. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (position - low);
}
