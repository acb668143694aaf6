export type { KVCacheShape, KVCacheV1, KVHeadView } from './contract';
export { createFullCache, FullKVCache, type FullKVCacheOptions } from './full-cache';
export { KVHeadStore, type KVStatisticsOptions } from './head-store';
