// The KV cache of one HOMER chunk: every layer run so far holds the same tokens (propagative
// refinement keeps them aligned), so pruning and merging work on whole token rows across layers.
// It implements @meld/kv-cache's KVCacheV1, so runtime's runLayers and generation write to it directly.
import type { KVCacheShape, KVCacheV1, KVHeadView } from '@meld/kv-cache';
import { ValidationError } from '@meld/tensor-core';

interface LayerStore {
  length: number;
  /** keys[kvHead]: [capacity, headDim] */
  keys: Float32Array[];
  values: Float32Array[];
  positions: Int32Array;
}

export class ChunkKVCache implements KVCacheV1 {
  readonly specificationVersion = 'v1' as const;
  readonly shape: KVCacheShape;
  private layers: LayerStore[];
  private peak = 0;

  constructor(shape: KVCacheShape) {
    this.shape = { layers: shape.layers, kvHeads: shape.kvHeads, headDim: shape.headDim };
    this.layers = Array.from({ length: shape.layers }, () => emptyLayer(shape.kvHeads));
  }

  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>): void {
    const store = this.layer(layer);
    const { kvHeads, headDim } = this.shape;
    const count = positions.length;
    const stride = kvHeads * headDim;
    if (keys.length < count * stride || values.length < count * stride) {
      throw new ValidationError('keys', `append of ${count} tokens needs ${count * stride} floats`);
    }
    const needed = store.length + count;
    if (store.positions.length < needed)
      grow(store, Math.max(needed, store.positions.length * 2, 16), headDim);
    for (let t = 0; t < count; t++) {
      const slot = store.length + t;
      store.positions[slot] = positions[t]!;
      for (let h = 0; h < kvHeads; h++) {
        const from = t * stride + h * headDim;
        store.keys[h]!.set(keys.subarray(from, from + headDim), slot * headDim);
        store.values[h]!.set(values.subarray(from, from + headDim), slot * headDim);
      }
    }
    store.length = needed;
    this.updatePeak();
  }

  head(layer: number, kvHead: number): KVHeadView {
    const store = this.layer(layer);
    const keys = store.keys[kvHead];
    const values = store.values[kvHead];
    if (!keys || !values) throw new ValidationError('kvHead', `${kvHead} outside [0, ${this.shape.kvHeads})`);
    return { length: store.length, keys, values, positions: store.positions };
  }

  length(layer: number): number {
    return this.layer(layer).length;
  }

  /** Layers that hold tokens (the layers run so far): [0, computedLayers()). */
  computedLayers(): number {
    let count = 0;
    while (count < this.layers.length && this.layers[count]!.length > 0) count++;
    return count;
  }

  /** Bytes of live keys, values and position ids. */
  bytes(): number {
    const { kvHeads, headDim } = this.shape;
    let total = 0;
    for (const store of this.layers) total += store.length * (kvHeads * 2 * headDim * 4 + 4);
    return total;
  }

  peakBytes(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.bytes();
  }

  clear(): void {
    this.layers = this.layers.map(() => emptyLayer(this.shape.kvHeads));
  }

  /**
   * Propagative refinement: keep only the token rows `keep` (ascending indices) in every layer that
   * holds tokens; all such layers must hold the same number of rows.
   */
  keepRows(keep: ArrayLike<number>): void {
    const { headDim } = this.shape;
    const rows = this.layers[0]!.length;
    for (const [index, store] of this.layers.entries()) {
      if (store.length === 0) continue;
      if (store.length !== rows) {
        throw new ValidationError(
          'cache',
          `layer ${index} holds ${store.length} tokens, layer 0 holds ${rows}`,
        );
      }
      const next = emptyLayer(this.shape.kvHeads);
      grow(next, Math.max(keep.length, 1), headDim);
      for (let i = 0; i < keep.length; i++) {
        const row = keep[i]!;
        if (!(row >= 0 && row < store.length))
          throw new ValidationError('keep', `row ${row} outside [0, ${store.length})`);
        next.positions[i] = store.positions[row]!;
        for (let h = 0; h < this.shape.kvHeads; h++) {
          next.keys[h]!.set(store.keys[h]!.subarray(row * headDim, (row + 1) * headDim), i * headDim);
          next.values[h]!.set(store.values[h]!.subarray(row * headDim, (row + 1) * headDim), i * headDim);
        }
      }
      next.length = keep.length;
      this.layers[index] = next;
    }
  }

  /**
   * HOMER's merge of two sibling chunks' caches (both `prefixLength` + context + `suffixLength` rows):
   * prefix and suffix rows averaged, (L + R) / 2; contexts concatenated, left then right. Position ids
   * are the left prefix's, both contexts' and the right suffix's, as in the reference.
   */
  static merge(
    left: ChunkKVCache,
    right: ChunkKVCache,
    prefixLength: number,
    suffixLength: number,
  ): ChunkKVCache {
    const { kvHeads, headDim } = left.shape;
    const merged = new ChunkKVCache(left.shape);
    const layers = left.computedLayers();
    if (right.computedLayers() !== layers) {
      throw new ValidationError('right', `children ran ${layers} and ${right.computedLayers()} layers`);
    }
    for (let layer = 0; layer < layers; layer++) {
      const a = left.layers[layer]!;
      const b = right.layers[layer]!;
      const leftContext = a.length - prefixLength - suffixLength;
      const rightContext = b.length - prefixLength - suffixLength;
      const length = prefixLength + leftContext + rightContext + suffixLength;
      const out = emptyLayer(kvHeads);
      grow(out, length, headDim);
      // [destination row, source rows from left (or -1), source row from right (or -1)]
      const plan: [number, number, number][] = [];
      for (let i = 0; i < prefixLength; i++) plan.push([i, i, i]);
      for (let i = 0; i < leftContext; i++) plan.push([prefixLength + i, prefixLength + i, -1]);
      for (let i = 0; i < rightContext; i++)
        plan.push([prefixLength + leftContext + i, -1, prefixLength + i]);
      for (let i = 0; i < suffixLength; i++) {
        plan.push([length - suffixLength + i, a.length - suffixLength + i, b.length - suffixLength + i]);
      }
      for (const [row, fromLeft, fromRight] of plan) {
        out.positions[row] =
          fromRight >= 0 && (fromLeft < 0 || row >= length - suffixLength)
            ? b.positions[fromRight]!
            : a.positions[fromLeft]!;
        for (let h = 0; h < kvHeads; h++) {
          for (const [target, source] of [
            [out.keys[h]!, [a.keys[h]!, b.keys[h]!]],
            [out.values[h]!, [a.values[h]!, b.values[h]!]],
          ] as const) {
            const o = row * headDim;
            if (fromLeft >= 0 && fromRight >= 0) {
              for (let d = 0; d < headDim; d++) {
                target[o + d] =
                  (source[0][fromLeft * headDim + d]! + source[1][fromRight * headDim + d]!) / 2;
              }
            } else if (fromLeft >= 0) {
              target.set(source[0].subarray(fromLeft * headDim, (fromLeft + 1) * headDim), o);
            } else {
              target.set(source[1].subarray(fromRight * headDim, (fromRight + 1) * headDim), o);
            }
          }
        }
      }
      out.length = length;
      merged.layers[layer] = out;
    }
    merged.updatePeak();
    return merged;
  }

  /** Appends every layer's tokens to another (empty) cache, e.g. one under a kv-cache policy. */
  copyInto(target: KVCacheV1): void {
    const { kvHeads, headDim } = this.shape;
    const stride = kvHeads * headDim;
    for (const [layer, store] of this.layers.entries()) {
      if (store.length === 0) continue;
      const keys = new Float32Array(store.length * stride);
      const values = new Float32Array(store.length * stride);
      for (let t = 0; t < store.length; t++) {
        for (let h = 0; h < kvHeads; h++) {
          keys.set(store.keys[h]!.subarray(t * headDim, (t + 1) * headDim), t * stride + h * headDim);
          values.set(store.values[h]!.subarray(t * headDim, (t + 1) * headDim), t * stride + h * headDim);
        }
      }
      target.append(layer, keys, values, store.positions.subarray(0, store.length));
    }
  }

  private updatePeak(): void {
    const bytes = this.bytes();
    if (bytes > this.peak) this.peak = bytes;
  }

  private layer(layer: number): LayerStore {
    const store = this.layers[layer];
    if (!store) throw new ValidationError('layer', `must be in [0, ${this.shape.layers}), got ${layer}`);
    return store;
  }
}

function emptyLayer(kvHeads: number): LayerStore {
  return {
    length: 0,
    keys: Array.from({ length: kvHeads }, () => new Float32Array(0)),
    values: Array.from({ length: kvHeads }, () => new Float32Array(0)),
    positions: new Int32Array(0),
  };
}

function grow(store: LayerStore, capacity: number, headDim: number): void {
  store.keys = store.keys.map((old) => {
    const next = new Float32Array(capacity * headDim);
    next.set(old.subarray(0, store.length * headDim));
    return next;
  });
  store.values = store.values.map((old) => {
    const next = new Float32Array(capacity * headDim);
    next.set(old.subarray(0, store.length * headDim));
    return next;
  });
  const positions = new Int32Array(capacity);
  positions.set(store.positions.subarray(0, store.length));
  store.positions = positions;
}
