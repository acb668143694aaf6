export type { KVCacheShape, KVCacheV1, KVHeadView } from './contract';
