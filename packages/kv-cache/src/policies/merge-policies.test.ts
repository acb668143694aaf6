import { seededRandom } from '@meld/tensor-core';
import type {} from '@meld/test-utils/setup';
import { describe, expect, it } from 'vitest';
import { livePositions, liveRows, storeOf } from '../__fixtures__/stores';
import { camMerge, camPolicy } from './cam';
import { findMergingSets, kvMergerPolicy, mergeSet } from './kvmerger';
import { mergeIntoNearest, mergeOnEvictPolicy } from './merge-on-evict';

/** Draws taken from a fixed list, to decide each Bernoulli outcome by hand. */
function draws(list: number[]): () => number {
  let i = 0;
  return () => list[i++] as number;
}

function camStore() {
  const store = storeOf([[1], [1], [1], [1], [1], [1]], [[1], [2], [3], [4], [5], [6]], {
    lastAttention: true,
  });
  store.observe(Float32Array.from([0.1, 0.3, 0.05, 0.15, 0.2, 0.2]), 1, 0);
  return store;
}

describe('cam', () => {
  // budget 4, startFraction .5: keep slots 0, 1 (start) and 4, 5 (recent); evict 2 then 3.
  // e = 2: p = .05 / mean(.15, .2, .2) = .2727; e = 3: p = .15 / mean(.2, .2) = .75. mergeBudget 2.
  const compress = (random: () => number) => {
    const store = camStore();
    camPolicy
      .create(
        camPolicy.parameters.parse({
          selection: 'start_recent',
          startFraction: 0.5,
          mergeBudget: 2,
          attention: 'last',
        }),
      )
      .compressLayer({ layer: 0, stores: [store], target: 4, phase: 'prefill', random });
    return store;
  };

  it('merges V[e] / mergeBudget into the next slots when the draw is below p', () => {
    const store = compress(draws([0.2, 0.9])); // 0.2 < .2727 merges slot 2; 0.9 >= .75 keeps slot 3 out
    expect(livePositions(store)).toEqual([0, 1, 4, 5]);
    // V3 = 4 + 3/2 (then evicted unmerged), V4 = 5 + 3/2
    expect(liveRows(store.values, store).flat()).toEqual([1, 2, 6.5, 6]);
  });

  it('skips when the draw is above p, and merged mass cascades through later evictions', () => {
    const skipped = compress(draws([0.3, 0.5]));
    expect(liveRows(skipped.values, skipped).flat()).toEqual([1, 2, 7, 8]);
    // both merge: V3 = 5.5, V4 = 6.5; then V4 += 5.5 / 2, V5 += 5.5 / 2
    const cascaded = compress(draws([0, 0]));
    expect(liveRows(cascaded.values, cascaded).flat()).toEqual([1, 2, 9.25, 8.75]);
  });

  it('draws Bernoulli(p) with the seeded generator', () => {
    let merges = 0;
    const random = seededRandom(42);
    for (let trial = 0; trial < 4000; trial++)
      merges += camMerge(camStore(), [2], camStore().lastAttention, 2, random)[0] as number;
    expect(merges / 4000).toBeCloseTo(0.05 / ((0.15 + 0.2 + 0.2) / 3), 1);
  });

  it('merge: false keeps the selection and leaves values alone', () => {
    const store = camStore();
    camPolicy
      .create(camPolicy.parameters.parse({ mergeBudget: 2, merge: false }))
      .compressLayer({ layer: 0, stores: [store], target: 4, phase: 'prefill', random: () => 0 });
    expect(liveRows(store.values, store).flat()).toEqual([1, 2, 5, 6]);
  });

  it('clamps p to 1 and treats NaN as 0', () => {
    const store = storeOf([[1], [1], [1]], [[2], [0], [0]]);
    expect(camMerge(store, [0], [0.9, 0.05, 0.05], 2, () => 0.999999)[0]).toBe(1);
    expect(camMerge(store, [0], [0, 0, 0], 2, () => 0)[0]).toBe(0);
  });
});

// Keys: sink (1,0); a similar run (1,.1) (1,.2) (1,.3); then (0,1), (-1,1) and a recent window.
function mergerStore() {
  const store = storeOf(
    [
      [1, 0],
      [1, 0.1],
      [1, 0.2],
      [1, 0.3],
      [0, 1],
      [-1, 1],
      [1, -1],
      [0.5, 0.5],
    ],
    [0, 1, 2, 4, 8, 16, 32, 64].map((v) => [v, -v]),
    { accumulatedAttention: true, mergeCounts: true },
  );
  store.accumulatedAttention?.set([3, 0.2, 0.5, 0.1, 0.05, 0.04, 1, 1]);
  return store;
}

/** Gaussian-kernel merge written out in float64, independent of mergeSet. */
function gaussianMerge(keys: number[][], values: number[], pivot: number) {
  const distances = keys.map((k) => k.reduce((s, x, c) => s + (x - (keys[pivot]?.[c] as number)) ** 2, 0));
  const sigmaSquared = distances.reduce((a, b) => a + b, 0) / distances.length;
  const g = distances.map((d) => Math.exp(-d / (2 * sigmaSquared)));
  const total = g.reduce((a, b) => a + b, 0);
  const w = g.map((x) => x / total);
  return {
    key: [0, 1].map((c) => keys.reduce((s, k, i) => s + (w[i] as number) * (k[c] as number), 0)),
    value: values.reduce((s, v, i) => s + (w[i] as number) * v, 0),
  };
}

describe('kvmerger', () => {
  const defaults = kvMergerPolicy.parameters.parse({ sinks: 1 });

  it('finds runs of consecutive keys whose adjacent cosine passes the threshold', () => {
    const sets = findMergingSets(mergerStore(), 1, 6, 0.75);
    expect(sets.map((s) => [s.start, s.end])).toEqual([[1, 4]]);
    // cos((1,.1),(1,.2)) and cos((1,.2),(1,.3))
    const cos = (a: number[], b: number[]) =>
      (a[0]! * b[0]! + a[1]! * b[1]!) / Math.hypot(a[0]!, a[1]!) / Math.hypot(b[0]!, b[1]!);
    expect(sets[0]?.similarity).toBeCloseTo((cos([1, 0.1], [1, 0.2]) + cos([1, 0.2], [1, 0.3])) / 2, 6);
    expect(findMergingSets(mergerStore(), 1, 6, 0.7).map((s) => [s.start, s.end])).toEqual([
      [1, 4],
      [4, 6],
    ]);
  });

  it('merges a set at the pivot with Gaussian weights (rms sigma) and sums its statistics', () => {
    const store = mergerStore();
    const pivot = mergeSet(store, 1, 4, 'rms', 'attention');
    expect(pivot).toBe(2); // attention .5 beats .2 and .1
    const expected = gaussianMerge(
      [
        [1, 0.1],
        [1, 0.2],
        [1, 0.3],
      ],
      [1, 2, 4],
      1,
    );
    expect(Array.from(store.key(2))).toBeAllClose(expected.key, { atol: 1e-6 });
    expect(store.value(2)[0]).toBeCloseTo(expected.value, 5);
    expect(store.accumulatedAttention?.[2]).toBeCloseTo(0.8, 6);
    expect(store.mergeCounts?.[2]).toBe(3);
    expect(mergeSet(mergerStore(), 1, 4, 'rms', 'center')).toBe(2);
    const pivotScored = mergerStore();
    mergeSet(pivotScored, 1, 4, 'rms', 'attention', 'pivot');
    expect(pivotScored.accumulatedAttention?.[2]).toBeCloseTo(0.5, 6);
  });

  it('a fixed sigma changes the weights as the kernel says', () => {
    const store = mergerStore();
    mergeSet(store, 1, 3, 0.1, 'attention');
    // pivot 2; |k1 - k2|^2 = .01 -> g = exp(-.01 / .02) = e^-.5
    const g = Math.exp(-0.5);
    expect(store.value(2)[0]).toBeCloseTo((g * 1 + 1 * 2) / (g + 1), 5);
  });

  it('meets the budget by merging, truncating the last set, then evicting by attention', () => {
    const exact = mergerStore();
    kvMergerPolicy
      .create(defaults)
      .compressLayer({ layer: 0, stores: [exact], target: 6, phase: 'prefill', random: Math.random });
    expect(livePositions(exact)).toEqual([0, 2, 4, 5, 6, 7]);

    const truncated = mergerStore();
    kvMergerPolicy
      .create(defaults)
      .compressLayer({ layer: 0, stores: [truncated], target: 7, phase: 'prefill', random: Math.random });
    expect(livePositions(truncated)).toEqual([0, 2, 3, 4, 5, 6, 7]);
    expect(truncated.mergeCounts?.[1]).toBe(2);

    const evicted = mergerStore();
    kvMergerPolicy
      .create(defaults)
      .compressLayer({ layer: 0, stores: [evicted], target: 4, phase: 'prefill', random: Math.random });
    // sink 0, recent 6 and 7, and the merged slot 2 (attention .8) beats 4 (.05) and 5 (.04)
    expect(livePositions(evicted)).toEqual([0, 2, 6, 7]);

    // a layer outside `layers` only evicts: slot 1..5 by attention -> 2 (.5) survives unmerged
    const evictOnly = mergerStore();
    kvMergerPolicy
      .create(kvMergerPolicy.parameters.parse({ sinks: 1, layers: [3] }))
      .compressLayer({ layer: 0, stores: [evictOnly], target: 4, phase: 'prefill', random: Math.random });
    expect(livePositions(evictOnly)).toEqual([0, 2, 6, 7]);
    expect(Array.from(evictOnly.key(1))).toBeAllClose([1, 0.2]);
  });
});

describe('merge_on_evict', () => {
  it("folds an evicted value into the most cosine-similar kept key's value with kvpress's weight", () => {
    const store = storeOf(
      [
        [1, 0],
        [0, 1],
        [1, 0.9],
      ],
      [
        [1, 0],
        [0, 2],
        [3, 4],
      ],
    );
    mergeIntoNearest(store, [0, 1], 0, 1);
    const similarity = 1 / Math.hypot(1, 0.9); // cos((1,.9),(1,0)) beats cos((1,.9),(0,1))
    const w = (similarity * 5) / (5 + 1 + 1e-6);
    expect(Array.from(store.value(0))).toBeAllClose([(1 + 3 * w) / (1 + w), (0 + 4 * w) / (1 + w)], {
      atol: 1e-6,
    });
    expect(Array.from(store.value(1))).toEqual([0, 2]);
  });

  it('the similarity threshold gates the merge', () => {
    const store = storeOf(
      [
        [1, 0],
        [0, 1],
        [1, 0.9],
      ],
      [
        [1, 0],
        [0, 2],
        [3, 4],
      ],
    );
    mergeIntoNearest(store, [0, 1], 0.8, 1);
    expect(Array.from(store.value(0))).toEqual([1, 0]);
  });

  it('runs on top of the base rule', () => {
    const store = storeOf([[1], [2], [3], [4]], [[1], [1], [1], [1]]);
    mergeOnEvictPolicy
      .create(mergeOnEvictPolicy.parameters.parse({ base: 'streaming_llm', sinks: 1 }))
      .compressLayer({ layer: 0, stores: [store], target: 2, phase: 'prefill', random: Math.random });
    expect(livePositions(store)).toEqual([0, 3]);
    // all keys are parallel (cos 1) and all values 1: merged values stay 1 (weights are normalised)
    expect(Array.from(store.values.subarray(0, 2))).toBeAllClose([1, 1]);
  });
});
