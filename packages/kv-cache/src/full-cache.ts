// The plain cache: every token of every layer and KV head is kept. Policies wrap it (compressed-cache.ts)
// and rewrite its stores in place; on its own it is the uncompressed reference.
import { ValidationError } from '@meld/tensor-core';
import type { KVCacheShape, KVCacheV1, KVHeadView } from './contract';
import { DEFAULT_BLOCK_SLOTS, KVHeadStore, type KVStatisticsOptions } from './head-store';

export interface FullKVCacheOptions {
  /** Per-slot statistics to keep (none by default: the full cache then costs only keys, values, positions). */
  readonly statistics?: KVStatisticsOptions;
  /** Slots added per growth step (default 64). */
  readonly blockSlots?: number;
}

export class FullKVCache implements KVCacheV1 {
  readonly specificationVersion = 'v1' as const;
  readonly shape: KVCacheShape;
  readonly statistics: KVStatisticsOptions;
  /** stores[layer * kvHeads + kvHead] */
  private readonly stores: KVHeadStore[];
  private readonly slotBytes: number;
  private readonly appendStamps: Int32Array;
  private peak = 0;

  constructor(shape: KVCacheShape, options: FullKVCacheOptions = {}) {
    for (const field of ['layers', 'kvHeads', 'headDim'] as const) {
      const value = shape[field];
      if (!Number.isInteger(value) || value < 1) {
        throw new ValidationError(`shape.${field}`, `must be a positive integer, got ${String(value)}`);
      }
    }
    const blockSlots = options.blockSlots ?? DEFAULT_BLOCK_SLOTS;
    if (!Number.isInteger(blockSlots) || blockSlots < 1) {
      throw new ValidationError('blockSlots', `must be a positive integer, got ${String(blockSlots)}`);
    }
    this.shape = { layers: shape.layers, kvHeads: shape.kvHeads, headDim: shape.headDim };
    this.statistics = { ...(options.statistics ?? {}) };
    this.slotBytes = KVHeadStore.slotBytes(shape.headDim, this.statistics);
    this.stores = [];
    for (let i = 0; i < shape.layers * shape.kvHeads; i++) {
      this.stores.push(new KVHeadStore(shape.headDim, this.statistics, blockSlots));
    }
    this.appendStamps = new Int32Array(shape.layers);
  }

  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>): void {
    const { kvHeads, headDim } = this.shape;
    const rowStride = kvHeads * headDim;
    const count = positions.length;
    this.checkLayer(layer);
    if (keys.length < count * rowStride || values.length < count * rowStride) {
      throw new ValidationError(
        'keys',
        `append of ${count} tokens needs ${count * rowStride} floats in keys and values, got ${keys.length} and ${values.length}`,
      );
    }
    for (let h = 0; h < kvHeads; h++) {
      this.store(layer, h).appendStrided(keys, values, positions, count, rowStride, h * headDim);
    }
    this.appendStamps[layer] = (this.appendStamps[layer] as number) + 1;
    this.updatePeak();
  }

  head(layer: number, kvHead: number): KVHeadView {
    return this.store(layer, kvHead);
  }

  /** The mutable store of one (layer, KV head), for policies of this package. */
  store(layer: number, kvHead: number): KVHeadStore {
    const store = this.stores[layer * this.shape.kvHeads + kvHead];
    if (store === undefined || kvHead < 0 || kvHead >= this.shape.kvHeads) {
      throw new ValidationError(
        'kvHead',
        `(${layer}, ${kvHead}) is outside ${this.shape.layers}x${this.shape.kvHeads}`,
      );
    }
    return store;
  }

  observeAttention(
    layer: number,
    kvHead: number,
    _queryHead: number,
    weights: Float32Array,
    queries: number,
  ): void {
    const s = this.statistics;
    if (!s.accumulatedAttention && !s.lastAttention && !s.observationWindow) return;
    this.store(layer, kvHead).observe(weights, queries, this.appendStamps[layer] as number);
  }

  length(layer: number): number {
    this.checkLayer(layer);
    let longest = 0;
    for (let h = 0; h < this.shape.kvHeads; h++) {
      longest = Math.max(longest, this.store(layer, h).length);
    }
    return longest;
  }

  /** Live slots summed over every layer and KV head. */
  slots(): number {
    let total = 0;
    for (const store of this.stores) total += store.length;
    return total;
  }

  bytes(): number {
    return this.slots() * this.slotBytes;
  }

  /** Bytes one live slot costs in this cache. */
  bytesPerSlot(): number {
    return this.slotBytes;
  }

  peakBytes(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.bytes();
  }

  /** Call after rewriting stores directly; keeps `peakBytes()` true. */
  updatePeak(): void {
    const bytes = this.bytes();
    if (bytes > this.peak) this.peak = bytes;
  }

  clear(): void {
    for (const store of this.stores) store.clear();
    this.appendStamps.fill(0);
  }

  private checkLayer(layer: number): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.shape.layers) {
      throw new ValidationError('layer', `must be in [0, ${this.shape.layers}), got ${String(layer)}`);
    }
  }
}

/** The uncompressed cache: keeps every token; no statistics unless asked. */
export function createFullCache(shape: KVCacheShape, options: FullKVCacheOptions = {}): FullKVCache {
  return new FullKVCache(shape, options);
}
