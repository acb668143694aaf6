import { ValidationError } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { defaultWarmupLayers, makeLeaf, planHomer } from './schedule';

describe('planHomer (reference formulas of create_homer_prefix)', () => {
  it('L=32, warm-up 12, 8 chunks: leaves run 17 layers, then 5 per level', () => {
    // max_chunk_len 2048, prefix 10, suffix 20 -> 2018 context tokens per chunk; 8 full chunks.
    const plan = planHomer({
      numLayers: 32,
      warmupLayers: 12,
      maxChunkLength: 2048,
      prefixLength: 10,
      suffixLength: 20,
      contextLength: 8 * 2018,
    });
    expect(plan.chunkCount).toBe(8);
    expect(plan.height).toBe(3);
    expect(plan.effectiveMaxChunkLength).toBe(2018);
    expect(plan.effectiveChunkLength).toBe(2018);
    expect(plan.layersPerLevel).toBe(5);
    expect(plan.layersLeftover).toBe(0);
    expect(plan.blocks).toEqual([
      { height: 0, start: 0, end: 17 },
      { height: 1, start: 17, end: 22 },
      { height: 2, start: 22, end: 27 },
      { height: 3, start: 27, end: 32 },
    ]);
    // child target: prefix + floor(2018 / 2) + suffix; root: min(target, total)
    expect(plan.childTargetLength).toBe(10 + 1009 + 20);
    expect(plan.finalTargetLength).toBe(2048);
  });

  it('gives the leftover layers to the leaves (L=32, warm-up 12, 3 chunks -> 4 leaves)', () => {
    // 20 merging layers over 3 blocks: per = 6, leftover = 2 -> leaves 12 + 2 + 6 = 20.
    const plan = planHomer({
      numLayers: 32,
      warmupLayers: 12,
      maxChunkLength: 100,
      prefixLength: 0,
      suffixLength: 4,
      contextLength: 250,
    });
    expect(plan.chunkCount).toBe(3);
    expect(plan.leafCount).toBe(4);
    expect(plan.effectiveChunkLength).toBe(Math.ceil(250 / 4));
    expect(plan.blocks.map((b) => [b.start, b.end])).toEqual([
      [0, 20],
      [20, 26],
      [26, 32],
    ]);
  });

  it('spreads more levels than layers: several merge levels share a layer (L=5, 64 leaves)', () => {
    const plan = planHomer({
      numLayers: 5,
      maxChunkLength: 256,
      prefixLength: 1,
      suffixLength: 15,
      contextLength: 64 * 240,
    });
    expect(plan.height).toBe(6);
    expect(plan.warmupLayers).toBe(1); // floor(12 * 5 / 32) = 1
    // leaves: warm-up + 1 = 2 layers; the other 3 layers end level h at 2 + floor(3h / 6).
    expect(plan.blocks.map((b) => [b.start, b.end])).toEqual([
      [0, 2],
      [2, 2],
      [2, 3],
      [3, 3],
      [3, 4],
      [4, 4],
      [4, 5],
    ]);
  });

  it('scales the warm-up from the reference 12 of 32 and cuts it to 1 when levels outnumber layers', () => {
    expect(defaultWarmupLayers(32, 3)).toBe(12);
    expect(defaultWarmupLayers(32, 25)).toBe(1);
    expect(defaultWarmupLayers(5, 2)).toBe(1);
    expect(defaultWarmupLayers(5, 6)).toBe(1);
    expect(defaultWarmupLayers(2, 4)).toBe(0);
  });

  it('a short input is one leaf that runs every layer', () => {
    const plan = planHomer({
      numLayers: 5,
      maxChunkLength: 256,
      prefixLength: 1,
      suffixLength: 5,
      contextLength: 100,
    });
    expect(plan.leafCount).toBe(1);
    expect(plan.blocks).toEqual([{ height: 0, start: 0, end: 5 }]);
    expect(plan.finalTargetLength).toBe(106);
  });

  it('rejects an empty suffix and chunks too short for the affixes', () => {
    const base = { numLayers: 5, maxChunkLength: 32, prefixLength: 1, suffixLength: 4, contextLength: 100 };
    expect(() => planHomer({ ...base, suffixLength: 0 })).toThrow(ValidationError);
    expect(() => planHomer({ ...base, prefixLength: 20, suffixLength: 11 })).toThrow(/maxChunkLength/);
    expect(() => planHomer({ ...base, warmupLayers: 5 })).toThrow(/warmupLayers/);
  });
});

describe('makeLeaf (make_chunks)', () => {
  // prefix 2, suffix 3, max chunk 9 -> 4 context tokens per chunk; context 10 -> 3 chunks -> 4 leaves of 3.
  const plan = planHomer({
    numLayers: 4,
    maxChunkLength: 9,
    prefixLength: 2,
    suffixLength: 3,
    contextLength: 10,
  });
  const prefix = [100, 101];
  const context = Array.from({ length: 10 }, (_, i) => i);
  const suffix = [200, 201, 202];

  it('each leaf is prefix + its slice + suffix, positions restart at 0 and the suffix sits at prefix + chunk', () => {
    expect(plan.leafCount).toBe(4);
    expect(plan.effectiveChunkLength).toBe(3);
    const first = makeLeaf(plan, prefix, context, suffix, 0);
    expect(Array.from(first.tokens)).toEqual([100, 101, 0, 1, 2, 200, 201, 202]);
    expect(Array.from(first.positions)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const last = makeLeaf(plan, prefix, context, suffix, 3);
    expect(Array.from(last.tokens)).toEqual([100, 101, 9, 200, 201, 202]);
    expect(Array.from(last.positions)).toEqual([0, 1, 2, 5, 6, 7]);
  });
});
