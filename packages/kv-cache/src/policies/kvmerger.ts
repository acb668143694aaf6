import { z } from 'zod';
import type { KVHeadStore } from '../head-store';
import { defineKVPolicy } from '../policy';
import { selectKept } from '../selection';

/**
 * KVMerger (arXiv 2407.08454). In the middle of the cache (between `sinks` protected first slots and a
 * protected recent window of `recentFraction` of the budget), merging sets are runs of consecutive slots
 * whose adjacent keys have cosine similarity >= `threshold`. Each set is merged into its pivot (the
 * member with the most accumulated attention, or the centre) with Gaussian-kernel weights
 * w_i = g(k_p, k_i) / sum_j g(k_p, k_j), g = exp(-|k_p - k_i|^2 / (2 sigma^2)); k' and v' are stored
 * at the pivot's slot. sigma is a number or 'rms' (root-mean-square distance to the pivot).
 * Budget: sets are merged most-similar first until the budget is met; if merging alone cannot meet
 * it, the remaining middle slots are evicted by accumulated attention (merged slots carry the sum of
 * their members'), as H2O would. Only the abstract is verified; the defaults are the settable choices
 * the spec lists (threshold 0.75, rms sigma, attention pivot).
 */
export const kvMergerPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'kvmerger',
  url: 'https://arxiv.org/abs/2407.08454',
  description:
    'Merge runs of similar consecutive keys into their pivot with Gaussian-kernel weights; evict by attention if still over budget.',
  parameters: z
    .object({
      threshold: z.number().min(-1).max(1).default(0.75),
      sigma: z.union([z.literal('rms'), z.number().positive()]).default('rms'),
      pivot: z.enum(['attention', 'center']).default('attention'),
      sinks: z.number().int().min(0).default(4),
      recentFraction: z.number().min(0).max(1).default(0.5),
      /**
       * Eviction score a merged slot carries: the sum of its members' accumulated attention, or the
       * pivot's own (a merged key draws about one token's attention, not the set's total).
       */
      mergedScore: z.enum(['sum', 'pivot']).default('sum'),
      /** Layers where sets are merged (all when absent); other layers only evict by attention. */
      layers: z.array(z.number().int().min(0)).optional(),
    })
    .strict(),
  statistics: () => ({ accumulatedAttention: true, mergeCounts: true }),
  create: (parameters) => ({
    compressLayer({ layer, stores, target }) {
      const merging = parameters.layers === undefined || parameters.layers.includes(layer);
      for (const store of stores) {
        if (store.length <= target) continue;
        kvMergeHead(
          store,
          target,
          merging ? parameters : { ...parameters, threshold: Number.POSITIVE_INFINITY },
        );
      }
    },
  }),
});

export interface KVMergerParameters {
  readonly threshold: number;
  readonly sigma: 'rms' | number;
  readonly pivot: 'attention' | 'center';
  readonly sinks: number;
  readonly recentFraction: number;
  readonly mergedScore?: 'sum' | 'pivot';
}

/** A run of consecutive slots [start, end) and its mean adjacent cosine similarity. */
export interface MergingSet {
  readonly start: number;
  readonly end: number;
  readonly similarity: number;
}

/** Runs of >= 2 consecutive slots in [start, end) whose adjacent keys pass the threshold. */
export function findMergingSets(
  store: KVHeadStore,
  start: number,
  end: number,
  threshold: number,
): MergingSet[] {
  const sets: MergingSet[] = [];
  if (threshold === Number.POSITIVE_INFINITY) return sets;
  const keys = store.keys;
  const d = store.headDim;
  // one pass: each key's squared norm is computed once and reused for both of its pairs
  let previousSquared = 0;
  if (start < end)
    for (let c = start * d; c < (start + 1) * d; c++) previousSquared += (keys[c] as number) ** 2;
  let runStart = start;
  let similaritySum = 0;
  for (let i = start + 1; i <= end; i++) {
    let similarity = Number.NEGATIVE_INFINITY;
    if (i < end) {
      let dot = 0;
      let squared = 0;
      const a = (i - 1) * d;
      const b = i * d;
      for (let c = 0; c < d; c++) {
        const y = keys[b + c] as number;
        dot += (keys[a + c] as number) * y;
        squared += y * y;
      }
      const denominator = Math.sqrt(previousSquared * squared);
      similarity = denominator > 0 ? dot / denominator : 0;
      previousSquared = squared;
    }
    if (similarity >= threshold) {
      similaritySum += similarity;
      continue;
    }
    if (i - runStart >= 2)
      sets.push({ start: runStart, end: i, similarity: similaritySum / (i - runStart - 1) });
    runStart = i;
    similaritySum = 0;
  }
  return sets;
}

/** Merge slots [start, end) into the pivot slot; returns the pivot index. Other members become garbage. */
export function mergeSet(
  store: KVHeadStore,
  start: number,
  end: number,
  sigma: 'rms' | number,
  pivotRule: 'attention' | 'center',
  mergedScore: 'sum' | 'pivot' = 'sum',
): number {
  const d = store.headDim;
  let pivot = start + Math.floor((end - start - 1) / 2);
  const attention = store.accumulatedAttention;
  if (pivotRule === 'attention' && attention !== undefined) {
    pivot = start;
    for (let i = start + 1; i < end; i++)
      if ((attention[i] as number) > (attention[pivot] as number)) pivot = i;
  }
  const pivotKey = Float64Array.from(store.key(pivot));
  const distances = new Float64Array(end - start);
  for (let i = start; i < end; i++) {
    const key = store.key(i);
    let squared = 0;
    for (let c = 0; c < d; c++) squared += ((key[c] as number) - (pivotKey[c] as number)) ** 2;
    distances[i - start] = squared;
  }
  let sigmaSquared: number;
  if (sigma === 'rms') {
    let mean = 0;
    for (const squared of distances) mean += squared;
    sigmaSquared = mean / distances.length;
  } else {
    sigmaSquared = sigma * sigma;
  }
  const weights = new Float64Array(end - start);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = sigmaSquared > 0 ? Math.exp(-(distances[i] as number) / (2 * sigmaSquared)) : 1;
    weights[i] = w;
    total += w;
  }
  const key = new Float64Array(d);
  const value = new Float64Array(d);
  for (let i = start; i < end; i++) {
    const w = (weights[i - start] as number) / total;
    const k = store.key(i);
    const v = store.value(i);
    for (let c = 0; c < d; c++) {
      key[c] = (key[c] as number) + w * (k[c] as number);
      value[c] = (value[c] as number) + w * (v[c] as number);
    }
  }
  store.key(pivot).set(key);
  store.value(pivot).set(value);
  if (attention !== undefined && mergedScore === 'sum') {
    let sum = 0;
    for (let i = start; i < end; i++) sum += attention[i] as number;
    attention[pivot] = sum;
  }
  const counts = store.mergeCounts;
  if (counts !== undefined) {
    let sum = 0;
    for (let i = start; i < end; i++) sum += counts[i] as number;
    counts[pivot] = sum;
  }
  return pivot;
}

function kvMergeHead(store: KVHeadStore, target: number, parameters: KVMergerParameters): void {
  const n = store.length;
  const sinks = Math.min(parameters.sinks, target);
  const recent = Math.min(Math.floor(target * parameters.recentFraction), target - sinks);
  const middleEnd = n - recent;
  let excess = n - target;
  const sets = findMergingSets(store, sinks, middleEnd, parameters.threshold);
  sets.sort((a, b) => b.similarity - a.similarity || a.start - b.start);
  const removed = new Uint8Array(n);
  for (const set of sets) {
    if (excess <= 0) break;
    // Truncate the last set so merging never goes below the budget.
    const end = Math.min(set.end, set.start + excess + 1);
    const pivot = mergeSet(store, set.start, end, parameters.sigma, parameters.pivot, parameters.mergedScore);
    for (let i = set.start; i < end; i++) if (i !== pivot) removed[i] = 1;
    excess -= end - set.start - 1;
  }
  const survivors: number[] = [];
  for (let i = 0; i < n; i++) if (!removed[i]) survivors.push(i);
  store.retain(survivors);
  if (store.length > target) {
    store.retain(selectKept(store.length, target, store.accumulatedAttention, sinks, recent));
  }
}
