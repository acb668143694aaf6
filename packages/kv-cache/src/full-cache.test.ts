import { ValidationError } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { createFullCache } from './full-cache';

const shape = { layers: 2, kvHeads: 3, headDim: 4 };

/** Token-major projection rows [count, kvHeads * headDim] with value = token*100 + head*10 + dim (+ offset). */
function rows(start: number, count: number, offset = 0): Float32Array {
  const out = new Float32Array(count * shape.kvHeads * shape.headDim);
  for (let t = 0; t < count; t++) {
    for (let h = 0; h < shape.kvHeads; h++) {
      for (let d = 0; d < shape.headDim; d++) {
        out[(t * shape.kvHeads + h) * shape.headDim + d] = (start + t) * 100 + h * 10 + d + offset;
      }
    }
  }
  return out;
}

describe('FullKVCache', () => {
  it('splits token-major rows into per-head slots and grows across blocks', () => {
    const cache = createFullCache(shape, { blockSlots: 4 });
    cache.append(0, rows(0, 3), rows(0, 3, 0.5), [0, 1, 2]);
    for (let t = 3; t < 11; t++) cache.append(0, rows(t, 1), rows(t, 1, 0.5), [t]);
    expect(cache.length(0)).toBe(11);
    expect(cache.length(1)).toBe(0);
    for (let h = 0; h < 3; h++) {
      const view = cache.head(0, h);
      expect(view.length).toBe(11);
      for (let t = 0; t < 11; t++) {
        expect(view.positions[t]).toBe(t);
        for (let d = 0; d < 4; d++) {
          expect(view.keys[t * 4 + d]).toBe(t * 100 + h * 10 + d);
          expect(view.values[t * 4 + d]).toBe(t * 100 + h * 10 + d + 0.5);
        }
      }
    }
  });

  it('counts exactly the live slots: keys + values + positions (+ statistics when kept)', () => {
    const plain = createFullCache(shape);
    plain.append(0, rows(0, 5), rows(0, 5), [0, 1, 2, 3, 4]);
    plain.append(1, rows(0, 2), rows(0, 2), [0, 1]);
    // 7 tokens x 3 heads x (4 key + 4 value floats + 1 int32) x 4 bytes
    expect(plain.bytes()).toBe(7 * 3 * (4 * 4 * 2 + 4));
    const withStats = createFullCache(shape, {
      statistics: { accumulatedAttention: true, mergeCounts: true },
    });
    withStats.append(0, rows(0, 5), rows(0, 5), [0, 1, 2, 3, 4]);
    expect(withStats.bytes()).toBe(5 * 3 * (32 + 4 + 8));
  });

  it('tracks the peak across a shrink and resetPeak restarts it', () => {
    const cache = createFullCache(shape);
    cache.append(0, rows(0, 6), rows(0, 6), [0, 1, 2, 3, 4, 5]);
    const full = cache.bytes();
    for (let h = 0; h < 3; h++) cache.store(0, h).retain([0, 5]);
    cache.updatePeak();
    expect(cache.bytes()).toBe((full / 6) * 2);
    expect(cache.peakBytes()).toBe(full);
    cache.resetPeak();
    expect(cache.peakBytes()).toBe(cache.bytes());
    const view = cache.head(0, 1);
    expect(Array.from(view.positions.subarray(0, view.length))).toEqual([0, 5]);
    expect(Array.from(view.keys.subarray(4, 8))).toEqual([510, 511, 512, 513]);
    cache.clear();
    expect(cache.bytes()).toBe(0);
    expect(cache.length(0)).toBe(0);
  });

  it('accumulates observed attention, and restarts the last-row statistic each step', () => {
    const cache = createFullCache(
      { layers: 1, kvHeads: 1, headDim: 2 },
      { statistics: { accumulatedAttention: true, lastAttention: true, observationWindow: 1 } },
    );
    cache.append(0, new Float32Array([1, 0, 0, 1]), new Float32Array(4), [0, 1]);
    // two query heads sharing KV head 0, causal prefill rows
    cache.observeAttention(0, 0, 0, new Float32Array([1, 0, 0.25, 0.75]), 2);
    cache.observeAttention(0, 0, 1, new Float32Array([1, 0, 0.5, 0.5]), 2);
    const store = cache.store(0, 0);
    expect(Array.from(store.accumulatedAttention?.subarray(0, 2) ?? [])).toEqual([2.75, 1.25]);
    expect(Array.from(store.lastAttention?.subarray(0, 2) ?? [])).toEqual([0.75, 1.25]);
    expect(Array.from(store.windowAttention?.subarray(0, 2) ?? [])).toEqual([0.75, 1.25]);
    cache.append(0, new Float32Array([1, 1]), new Float32Array(2), [2]);
    cache.observeAttention(0, 0, 0, new Float32Array([0.5, 0.25, 0.25]), 1);
    expect(Array.from(store.lastAttention?.subarray(0, 3) ?? [])).toEqual([0.5, 0.25, 0.25]);
    expect(Array.from(store.accumulatedAttention?.subarray(0, 3) ?? [])).toEqual([3.25, 1.5, 0.25]);
  });

  it('rejects bad shapes and short inputs with a ValidationError naming the field', () => {
    expect(() => createFullCache({ layers: 0, kvHeads: 1, headDim: 1 })).toThrow(ValidationError);
    const cache = createFullCache(shape);
    expect(() => cache.append(0, new Float32Array(3), new Float32Array(3), [0])).toThrow(/keys/);
    expect(() => cache.append(5, rows(0, 1), rows(0, 1), [0])).toThrow(/layer/);
  });
});
