export { budgetSlots, formatKVBudget, type KVBudget, kvBudgetSchema, parseKVBudget } from './budget';
export {
  CompressedKVCache,
  type CompressedKVCacheOptions,
  type KVCompressionStats,
} from './compressed-cache';
export type { KVCacheShape, KVCacheV1, KVHeadView } from './contract';
export { createFullCache, FullKVCache, type FullKVCacheOptions } from './full-cache';
export { KVHeadStore, type KVStatisticsOptions } from './head-store';
export {
  type KVOptionsInput,
  kvOptionsSchema,
  parseKVParams,
  type ResolvedKVOptions,
  resolveKVOptions,
} from './options';
export { camMerge, camPolicy } from './policies/cam';
export { fullPolicy } from './policies/full';
export { h2oPolicy } from './policies/h2o';
export { findMergingSets, kvMergerPolicy, type MergingSet, mergeSet } from './policies/kvmerger';
export { mergeIntoNearest, mergeOnEvictPolicy } from './policies/merge-on-evict';
export { poolScores, snapKVPolicy } from './policies/snapkv';
export { streamingLLMPolicy } from './policies/streaming-llm';
export { tovaPolicy } from './policies/tova';
export { defineKVPolicy, type KVCompressorV1, type KVLayerCompression, type KVPolicyV1 } from './policy';
export { getKVPolicy, kvPolicies, kvPolicyNames } from './registry';
export { selectKept } from './selection';
