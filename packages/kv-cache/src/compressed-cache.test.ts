import { seededRandom } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { budgetSlots, type KVBudget } from './budget';
import { CompressedKVCache } from './compressed-cache';
import type { KVCacheV1 } from './contract';
import { FullKVCache } from './full-cache';
import { kvPolicies } from './registry';

const shape = { layers: 2, kvHeads: 2, headDim: 4 };
const groups = 2; // query heads per KV head

/** Drive a cache as runtime does: append per layer, then report causal softmax rows per query head. */
function drive(caches: KVCacheV1[], prompt: number, steps: number, afterStep: (seen: number) => void): void {
  const random = seededRandom(7);
  const width = shape.kvHeads * shape.headDim;
  const feed = (start: number, count: number) => {
    for (let layer = 0; layer < shape.layers; layer++) {
      const keys = Float32Array.from({ length: count * width }, () => random() * 2 - 1);
      const values = Float32Array.from({ length: count * width }, () => random() * 2 - 1);
      const positions = Array.from({ length: count }, (_, i) => start + i);
      for (const cache of caches) cache.append(layer, keys, values, positions);
      for (let h = 0; h < shape.kvHeads; h++) {
        for (let g = 0; g < groups; g++) {
          const logits = Array.from({ length: count * 1024 }, () => random() * 4);
          for (const cache of caches) {
            const n = cache.head(layer, h).length;
            const weights = new Float32Array(count * n);
            for (let q = 0; q < count; q++) {
              const visible = n - count + q + 1; // causal within the block
              let total = 0;
              for (let i = 0; i < visible; i++) total += Math.exp(logits[q * 1024 + i] as number);
              for (let i = 0; i < visible; i++)
                weights[q * n + i] = Math.exp(logits[q * 1024 + i] as number) / total;
            }
            cache.observeAttention?.(layer, h, h * groups + g, weights, count);
          }
        }
      }
    }
  };
  feed(0, prompt);
  afterStep(prompt);
  for (let t = 0; t < steps; t++) {
    feed(prompt + t, 1);
    afterStep(prompt + t + 1);
  }
}

function statisticsCount(cache: CompressedKVCache): number {
  return (cache.bytesPerSlot() - (2 * shape.headDim * 4 + 4)) / 4;
}

describe('CompressedKVCache', () => {
  const compressing = kvPolicies.filter((policy) => policy.name !== 'full');

  for (const every of [1, 3]) {
    it.each(compressing.map((p) => [p.name, p]))(
      `%s never exceeds a 12-token budget (compress every ${every})`,
      (_, policy) => {
        const budget: KVBudget = { type: 'tokens', tokens: 12 };
        const cache = new CompressedKVCache(shape, {
          policy,
          parameters: {},
          budget,
          compressEvery: every,
          seed: 1,
        });
        let decoding = false;
        drive([cache], 30, 10, (seen) => {
          let slots = 0;
          for (let layer = 0; layer < shape.layers; layer++) {
            for (let h = 0; h < shape.kvHeads; h++) {
              const view = cache.head(layer, h);
              slots += view.length;
              if (decoding) expect(view.length).toBeLessThanOrEqual(budgetSlots(budget, seen));
              // positions stay increasing and come from the tokens seen
              for (let i = 1; i < view.length; i++)
                expect(view.positions[i]).toBeGreaterThan(view.positions[i - 1] as number);
            }
          }
          decoding = true;
          const perSlot = 2 * shape.headDim * 4 + 4 + 4 * statisticsCount(cache);
          expect(cache.bytes()).toBe(slots * perSlot);
          expect(cache.peakBytes()).toBeGreaterThanOrEqual(cache.bytes());
        });
        // the prompt (30 tokens x 4 heads) was the peak before compression
        expect(cache.peakBytes()).toBe(30 * 4 * cache.bytesPerSlot());
        expect(cache.stats().compressions).toBeGreaterThan(0);
      },
    );
  }

  it('compresses the prompt only once decoding starts when compressEvery is 0', () => {
    const policy = kvPolicies.find((p) => p.name === 'h2o');
    if (policy === undefined) throw new Error('h2o missing');
    const cache = new CompressedKVCache(shape, {
      policy,
      parameters: {},
      budget: { type: 'ratio', ratio: 0.5 },
    });
    const lengths: number[] = [];
    drive([cache], 20, 3, () => lengths.push(cache.length(0)));
    expect(lengths).toEqual([20, 11, 12, 13]);
  });

  it.each(kvPolicies.map((p) => [p.name, p]))(
    '%s at a 100%% budget leaves keys and values untouched',
    (_, policy) => {
      const full = new FullKVCache(shape);
      const cache = new CompressedKVCache(shape, {
        policy,
        parameters: {},
        budget: { type: 'ratio', ratio: 1 },
        compressEvery: 1,
      });
      drive([full, cache], 16, 4, () => {});
      for (let layer = 0; layer < shape.layers; layer++) {
        for (let h = 0; h < shape.kvHeads; h++) {
          const a = full.head(layer, h);
          const b = cache.head(layer, h);
          expect(b.length).toBe(a.length);
          expect(b.keys.subarray(0, b.length * 4)).toEqual(a.keys.subarray(0, a.length * 4));
          expect(b.values.subarray(0, b.length * 4)).toEqual(a.values.subarray(0, a.length * 4));
          expect(b.positions.subarray(0, b.length)).toEqual(a.positions.subarray(0, a.length));
        }
      }
    },
  );

  it('applies per-layer budgets', () => {
    const policy = kvPolicies.find((p) => p.name === 'streaming_llm');
    if (policy === undefined) throw new Error('streaming_llm missing');
    const cache = new CompressedKVCache(shape, {
      policy,
      parameters: {},
      budget: { type: 'tokens', tokens: 8 },
      layerBudgets: [
        { type: 'tokens', tokens: 5 },
        { type: 'ratio', ratio: 0.5 },
      ],
    });
    drive([cache], 20, 0, () => {});
    cache.compress();
    expect(cache.length(0)).toBe(5);
    expect(cache.length(1)).toBe(10);
  });
});
