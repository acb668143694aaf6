// Selection-based top-k (quickselect, expected O(n)), not a full sort. Used by sampling (top-k logits)
// and by merges (TIES / DARE / DELLA magnitude pruning need the k-th largest magnitude).
import { ValidationError } from '../errors';

export interface SelectOptions {
  /** Rank by value (default) or by absolute value. NaN always ranks last. */
  by?: 'value' | 'magnitude';
}

function rankKeys(values: ArrayLike<number>, by: 'value' | 'magnitude'): Float64Array {
  const keys = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = by === 'magnitude' ? Math.abs(values[i]) : values[i];
    keys[i] = Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v;
  }
  return keys;
}

/**
 * Rearranges `order` so that its first k entries are the k best (key descending, index ascending on ties).
 * Hoare-style quickselect with a median-of-three pivot; deterministic.
 */
function quickselect(keys: Float64Array, order: Int32Array, k: number): void {
  const better = (a: number, b: number) => keys[a] > keys[b] || (keys[a] === keys[b] && a < b);
  let left = 0;
  let right = order.length - 1;
  while (right > left) {
    const middle = (left + right) >>> 1;
    // median of three into order[middle]
    if (better(order[middle], order[left])) swap(order, middle, left);
    if (better(order[right], order[left])) swap(order, right, left);
    if (better(order[right], order[middle])) swap(order, right, middle);
    const pivot = order[middle];
    let i = left;
    let j = right;
    while (i <= j) {
      while (better(order[i], pivot)) i++;
      while (better(pivot, order[j])) j--;
      if (i <= j) {
        swap(order, i, j);
        i++;
        j--;
      }
    }
    if (k - 1 <= j) right = j;
    else if (k - 1 >= i) left = i;
    else return;
  }
}

function swap(order: Int32Array, a: number, b: number): void {
  const t = order[a];
  order[a] = order[b];
  order[b] = t;
}

/** Indices of the k largest entries (by value or magnitude), in no particular order. k is clamped to [0, n]. */
export function selectTopK(values: ArrayLike<number>, k: number, options: SelectOptions = {}): Int32Array {
  const n = values.length;
  const count = Math.max(0, Math.min(n, Math.floor(k)));
  if (count === 0) return new Int32Array(0);
  const keys = rankKeys(values, options.by ?? 'value');
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (count < n) quickselect(keys, order, count);
  return order.slice(0, count);
}

/**
 * The k-th largest value (or magnitude) of `values`, k counted from 1: the threshold that keeps the top k.
 * Throws a ValidationError (field `k`) when k is outside [1, n].
 */
export function kthLargest(values: ArrayLike<number>, k: number, options: SelectOptions = {}): number {
  const n = values.length;
  if (!(Number.isInteger(k) && k >= 1 && k <= n))
    throw new ValidationError('k', `kthLargest: k=${k} outside [1, ${n}]`);
  const keys = rankKeys(values, options.by ?? 'value');
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  quickselect(keys, order, k);
  let worst = order[0];
  for (let i = 1; i < k; i++) {
    const candidate = order[i];
    if (keys[candidate] < keys[worst]) worst = candidate;
  }
  return keys[worst];
}

/**
 * A 0/1 mask keeping the `density` fraction of entries with the largest magnitude (TIES / magnitude pruning).
 * Exactly round(density * n) entries are kept; ties at the threshold go to the lower index.
 */
export function magnitudeMask(values: ArrayLike<number>, density: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  const keep = Math.round(Math.max(0, Math.min(1, density)) * values.length);
  for (const index of selectTopK(values, keep, { by: 'magnitude' })) mask[index] = 1;
  return mask;
}
