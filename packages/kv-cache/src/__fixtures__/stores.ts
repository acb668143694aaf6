import { KVHeadStore, type KVStatisticsOptions } from '../head-store';

/** A store holding `keys` / `values` (one array per slot) at positions 0..n-1. */
export function storeOf(
  keys: number[][],
  values: number[][],
  statistics: KVStatisticsOptions = {},
  positions?: number[],
): KVHeadStore {
  const d = keys[0]?.length ?? 1;
  const store = new KVHeadStore(d, statistics, 4);
  store.appendStrided(
    Float32Array.from(keys.flat()),
    Float32Array.from(values.flat()),
    positions ?? keys.map((_, i) => i),
    keys.length,
    d,
    0,
  );
  return store;
}

export function livePositions(store: KVHeadStore): number[] {
  return Array.from(store.positions.subarray(0, store.length));
}

export function liveRows(array: Float32Array, store: KVHeadStore): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < store.length; i++)
    rows.push(Array.from(array.subarray(i * store.headDim, (i + 1) * store.headDim)));
  return rows;
}

/** Scalar keys 1..n and values 10..10n, for tests where only the selection matters. */
export function scalarStore(n: number, statistics: KVStatisticsOptions = {}): KVHeadStore {
  return storeOf(
    Array.from({ length: n }, (_, i) => [i + 1]),
    Array.from({ length: n }, (_, i) => [10 * (i + 1)]),
    statistics,
  );
}
