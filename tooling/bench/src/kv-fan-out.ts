// One prefill for many caches: while every cache holds the same slots (before any compression), a
// single forward pass can write and observe into all of them. Reads come from the first cache.
import type { KVCacheShape, KVCacheV1, KVHeadView } from '@meld/kv-cache';

export class FanOutKVCache implements KVCacheV1 {
  readonly specificationVersion = 'v1' as const;
  readonly shape: KVCacheShape;

  constructor(private readonly caches: readonly KVCacheV1[]) {
    const first = caches[0];
    if (first === undefined) throw new Error('FanOutKVCache needs at least one cache');
    this.shape = first.shape;
  }

  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>): void {
    for (const cache of this.caches) cache.append(layer, keys, values, positions);
  }

  head(layer: number, kvHead: number): KVHeadView {
    return (this.caches[0] as KVCacheV1).head(layer, kvHead);
  }

  observeAttention(
    layer: number,
    kvHead: number,
    queryHead: number,
    weights: Float32Array,
    queries: number,
  ): void {
    for (const cache of this.caches) cache.observeAttention?.(layer, kvHead, queryHead, weights, queries);
  }

  length(layer: number): number {
    return (this.caches[0] as KVCacheV1).length(layer);
  }

  bytes(): number {
    return (this.caches[0] as KVCacheV1).bytes();
  }

  peakBytes(): number {
    return (this.caches[0] as KVCacheV1).peakBytes();
  }

  clear(): void {
    for (const cache of this.caches) cache.clear();
  }
}
