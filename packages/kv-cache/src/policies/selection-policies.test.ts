import type {} from '@meld/test-utils/setup';
import { describe, expect, it } from 'vitest';
import { livePositions, scalarStore } from '../__fixtures__/stores';
import { selectKept } from '../selection';
import { h2oPolicy } from './h2o';
import { poolScores, snapKVPolicy } from './snapkv';
import { streamingLLMPolicy } from './streaming-llm';
import { tovaPolicy } from './tova';

const random = () => 0.5;

describe('selectKept', () => {
  it('keeps sinks, the recent window, then the top scores with ties going to the earlier slot', () => {
    const scores = [9, 5, 1, 7, 7, 3, 0, 0];
    expect(Array.from(selectKept(8, 5, scores, 1, 2))).toEqual([0, 3, 4, 6, 7]);
    expect(Array.from(selectKept(8, 4, [0, 2, 2, 2, 2, 2, 2, 0], 0, 1))).toEqual([1, 2, 3, 7]);
    // many evictions take the sort path; same answer as the scan path
    const long = Array.from({ length: 40 }, (_, i) => (i * 7) % 11);
    const kept = Array.from(selectKept(40, 10, long, 2, 3));
    expect(kept.length).toBe(10);
    expect(kept.slice(0, 2)).toEqual([0, 1]);
    expect(kept.slice(-3)).toEqual([37, 38, 39]);
    const middle = kept.slice(2, -3).map((i) => long[i] as number);
    expect(Math.min(...middle)).toBeGreaterThanOrEqual(9);
  });
});

describe('streaming_llm', () => {
  it('keeps the first `sinks` and the last target - sinks tokens', () => {
    const store = scalarStore(10);
    streamingLLMPolicy
      .create({ sinks: 2 })
      .compressLayer({ layer: 0, stores: [store], target: 6, phase: 'prefill', random });
    expect(livePositions(store)).toEqual([0, 1, 6, 7, 8, 9]);
    expect(Array.from(store.values.subarray(0, 6))).toEqual([10, 20, 70, 80, 90, 100]);
  });
});

describe('h2o', () => {
  it('keeps the heavy hitters of accumulated attention and the recent half of the budget', () => {
    const store = scalarStore(6, { accumulatedAttention: true });
    // causal attention rows of 6 queries (each row sums to 1); accumulated column sums are:
    // [1 + .5 + .6 + .1 + .1 + .2, .5 + .1 + .1 + .1 + .1, .3 + .7 + .1 + .1, .1 + .5 + .3, .2 + .2, .1]
    const rows = [
      [1, 0, 0, 0, 0, 0],
      [0.5, 0.5, 0, 0, 0, 0],
      [0.6, 0.1, 0.3, 0, 0, 0],
      [0.1, 0.1, 0.7, 0.1, 0, 0],
      [0.1, 0.1, 0.1, 0.5, 0.2, 0],
      [0.2, 0.1, 0.1, 0.3, 0.2, 0.1],
    ];
    store.observe(Float32Array.from(rows.flat()), 6, 0);
    const accumulated = Array.from(store.accumulatedAttention?.subarray(0, 6) ?? []);
    expect(accumulated).toBeAllClose([2.5, 0.9, 1.2, 0.9, 0.4, 0.1], { atol: 1e-6 });
    // target 4 -> recent 2 (slots 4, 5) + heavy 2 of [0, 4): slots 0 (2.5) and 2 (1.2)
    h2oPolicy
      .create({ recentFraction: 0.5 })
      .compressLayer({ layer: 0, stores: [store], target: 4, phase: 'prefill', random });
    expect(livePositions(store)).toEqual([0, 2, 4, 5]);
    expect(Array.from(store.accumulatedAttention?.subarray(0, 4) ?? [])).toBeAllClose([2.5, 1.2, 0.4, 0.1], {
      atol: 1e-6,
    });
  });
});

describe('tova', () => {
  it("ranks by the latest query's attention averaged over the layer's heads, keeping the newest token", () => {
    const a = scalarStore(5, { lastAttention: true });
    const b = scalarStore(5, { lastAttention: true });
    // last rows: head a [.4 .1 .1 .2 .2], head b [0 .5 .1 .2 .2] -> sums [.4 .6 .2 .4 .4]
    a.observe(Float32Array.from([0.4, 0.1, 0.1, 0.2, 0.2]), 1, 7);
    b.observe(Float32Array.from([0, 0.5, 0.1, 0.2, 0.2]), 1, 7);
    tovaPolicy
      .create({ headwise: false })
      .compressLayer({ layer: 0, stores: [a, b], target: 3, phase: 'decode', random });
    // newest (4) protected; then 1 (.6) and 0 (.4, ties with 3 and the earlier wins)
    expect(livePositions(a)).toEqual([0, 1, 4]);
    expect(livePositions(b)).toEqual([0, 1, 4]);
  });

  it('headwise scores each head on its own', () => {
    const a = scalarStore(4, { lastAttention: true });
    const b = scalarStore(4, { lastAttention: true });
    a.observe(Float32Array.from([0.7, 0.1, 0.1, 0.1]), 1, 1);
    b.observe(Float32Array.from([0.1, 0.1, 0.7, 0.1]), 1, 1);
    tovaPolicy
      .create({ headwise: true })
      .compressLayer({ layer: 0, stores: [a, b], target: 2, phase: 'decode', random });
    expect(livePositions(a)).toEqual([0, 3]);
    expect(livePositions(b)).toEqual([2, 3]);
  });
});

describe('snapkv', () => {
  it('pools like torch avg_pool1d (zero padding counted) and max_pool1d', () => {
    expect(Array.from(poolScores([1, 0, 0, 4, 0], 5, 3, 'avg'))).toBeAllClose([
      1 / 3,
      1 / 3,
      4 / 3,
      4 / 3,
      4 / 3,
    ]);
    expect(Array.from(poolScores([1, 0, 0, 4, 0], 5, 3, 'max'))).toEqual([1, 1, 4, 4, 4]);
    expect(Array.from(poolScores([1, 2, 3], 3, 1, 'avg'))).toEqual([1, 2, 3]);
  });

  it('scores the prefix by the observation window and keeps the window', () => {
    const store = scalarStore(8, { observationWindow: 2 });
    // 8 causal rows; only the last 2 (the window) count. Their sum over the prefix [0, 6):
    // row 6: [.1 .0 .5 .0 .0 .1 .3 0], row 7: [.1 .0 .3 .0 .1 .0 .2 .3] -> prefix [.2 0 .8 0 .1 .1]
    const rows: number[][] = [];
    for (let q = 0; q < 6; q++) rows.push(Array.from({ length: 8 }, (_, i) => (i === q ? 1 : 0)));
    rows.push([0.1, 0, 0.5, 0, 0, 0.1, 0.3, 0]);
    rows.push([0.1, 0, 0.3, 0, 0.1, 0, 0.2, 0.3]);
    store.observe(Float32Array.from(rows.flat()), 8, 0);
    // kernel 1: no smoothing -> keep the 2 best of the prefix (2: .8, 0: .2) plus window 6, 7
    snapKVPolicy.create({ window: 2, kernel: 1, pooling: 'avg' }).compressLayer({
      layer: 0,
      stores: [store],
      target: 4,
      phase: 'prefill',
      random,
    });
    expect(livePositions(store)).toEqual([0, 2, 6, 7]);
  });

  it('pooling spreads a peak to its neighbours', () => {
    const store = scalarStore(7, { observationWindow: 1 });
    const rows: number[][] = [];
    for (let q = 0; q < 6; q++) rows.push(Array.from({ length: 7 }, (_, i) => (i === q ? 1 : 0)));
    // last row: prefix [.05 .0 .6 .0 .0 .3]; avg-pooled (k=3): [.0167 .2167 .2 .2 .1 .1]
    rows.push([0.05, 0, 0.6, 0, 0, 0.3, 0.05]);
    store.observe(Float32Array.from(rows.flat()), 7, 0);
    snapKVPolicy.create({ window: 1, kernel: 3, pooling: 'avg' }).compressLayer({
      layer: 0,
      stores: [store],
      target: 3,
      phase: 'prefill',
      random,
    });
    expect(livePositions(store)).toEqual([1, 2, 6]);
  });
});
