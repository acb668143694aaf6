import { createFullCache } from '@meld/kv-cache';
import { describe, expect, it } from 'vitest';
import { ChunkKVCache } from './chunk-cache';

const shape = { layers: 3, kvHeads: 2, headDim: 2 };

/** A cache whose layers 0..computed-1 hold rows with key = [base + row, layer], value = -key. */
function filled(base: number, rows: number, computed: number, positions: number[]): ChunkKVCache {
  const cache = new ChunkKVCache(shape);
  for (let layer = 0; layer < computed; layer++) {
    const keys = new Float32Array(rows * 4);
    for (let t = 0; t < rows; t++) {
      for (let h = 0; h < 2; h++) keys.set([base + t + 100 * h, layer], t * 4 + h * 2);
    }
    cache.append(
      layer,
      keys,
      keys.map((x) => -x),
      positions,
    );
  }
  return cache;
}

const keysOf = (cache: ChunkKVCache, layer: number, head: number) => {
  const view = cache.head(layer, head);
  return Array.from(view.keys.subarray(0, view.length * 2));
};

describe('ChunkKVCache', () => {
  it('merge averages prefix and suffix and concatenates the contexts, in every computed layer', () => {
    // prefix 1, suffix 1: left rows [P, a, b, S], right rows [P, c, S]
    const left = filled(0, 4, 2, [0, 1, 2, 5]);
    const right = filled(10, 3, 2, [0, 1, 5]);
    const merged = ChunkKVCache.merge(left, right, 1, 1);
    expect(merged.computedLayers()).toBe(2);
    expect(merged.length(1)).toBe(5);
    // head 0 keys: prefix (0 + 10) / 2 = 5; left context 1, 2; right context 11; suffix (3 + 12) / 2 = 7.5
    expect(keysOf(merged, 1, 0)).toEqual([5, 1, 1, 1, 2, 1, 11, 1, 7.5, 1]);
    expect(keysOf(merged, 0, 1)).toEqual([105, 0, 101, 0, 102, 0, 111, 0, 107.5, 0]);
    const values = merged.head(0, 0).values;
    expect(Array.from(values.subarray(0, 2))).toEqual([-5, -0]);
    expect(Array.from(merged.head(0, 0).positions.subarray(0, 5))).toEqual([0, 1, 2, 1, 5]);
  });

  it('keepRows prunes the same tokens from every computed layer (propagative refinement)', () => {
    const cache = filled(0, 5, 2, [0, 1, 2, 3, 4]);
    const bytes = cache.bytes();
    cache.keepRows([0, 2, 4]);
    for (const layer of [0, 1]) {
      expect(cache.length(layer)).toBe(3);
      expect(keysOf(cache, layer, 0)).toEqual([0, layer, 2, layer, 4, layer]);
      expect(Array.from(cache.head(layer, 1).positions.subarray(0, 3))).toEqual([0, 2, 4]);
    }
    expect(cache.length(2)).toBe(0);
    expect(cache.bytes()).toBe((bytes * 3) / 5);
    expect(cache.peakBytes()).toBe(bytes);
    // layers out of step are an error, not a silent misalignment
    cache.append(2, new Float32Array(4), new Float32Array(4), [9]);
    expect(() => cache.keepRows([0])).toThrow(/layer 2 holds 1 tokens/);
  });

  it('copyInto gives a kv-cache FullKVCache the same slots', () => {
    const cache = filled(0, 3, 3, [4, 5, 6]);
    const full = createFullCache(shape);
    cache.copyInto(full);
    for (let layer = 0; layer < 3; layer++) {
      for (let head = 0; head < 2; head++) {
        const view = full.head(layer, head);
        expect(Array.from(view.keys.subarray(0, 6))).toEqual(keysOf(cache, layer, head));
        expect(Array.from(view.positions.subarray(0, 3))).toEqual([4, 5, 6]);
      }
    }
  });
});
