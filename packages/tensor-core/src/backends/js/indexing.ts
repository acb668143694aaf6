// Gathers, selections and reductions on plain typed arrays.
import { ValidationError } from '../../errors';
import { selectTopK } from '../../linalg/top-k';

/** out[t * dim .. (t+1) * dim) = table row ids[t]. An id outside the table throws a ValidationError naming ids[t]. */
export function embeddingGather(
  out: Float32Array,
  table: Float32Array,
  ids: ArrayLike<number>,
  dim: number,
): Float32Array {
  const rows = table.length / dim;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < rows && Number.isInteger(id))) {
      throw new ValidationError(`ids[${t}]`, `embedding id ${id} outside [0, ${rows})`);
    }
    out.set(table.subarray(id * dim, id * dim + dim), t * dim);
  }
  return out;
}

/** Index of the largest value of x[start, start + size); NaN wins (as numpy.argmax); ties: first. */
export function argmax(x: Float32Array, start = 0, size: number = x.length - start): number {
  let best = start;
  let bestValue = x[start];
  if (Number.isNaN(bestValue)) return 0;
  for (let i = start + 1; i < start + size; i++) {
    const v = x[i];
    if (Number.isNaN(v)) return i - start;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best - start;
}

/**
 * The k largest values of x with their indices, in descending order (ties: lower index first).
 * Selection (quickselect) first, then only the k winners are sorted: O(n + k log k).
 */
export function topK(x: Float32Array, k: number): { indices: Int32Array; values: Float32Array } {
  const indices = selectTopK(x, k);
  const sorted = Array.from(indices).sort((a, b) => x[b] - x[a] || a - b);
  const values = new Float32Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) values[i] = x[sorted[i]];
  return { indices: Int32Array.from(sorted), values };
}

/** Cosine similarity of two equal-length vectors (float64 accumulation); 0 when either is all zeros. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  if (normA === 0 || normB === 0) return 0;
  return dot / Math.sqrt(normA * normB);
}

/** out[r] = cosine(a row r, b row r) for rows of `dim` values. */
export function cosineSimilarityRows(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  dim: number,
): Float32Array {
  for (let r = 0; r * dim < a.length; r++) {
    out[r] = cosineSimilarity(a.subarray(r * dim, r * dim + dim), b.subarray(r * dim, r * dim + dim));
  }
  return out;
}

export type ReduceOperation = 'sum' | 'mean' | 'max' | 'min';

/** Reduces each row of `size` values of x into out[row] (float64 accumulation; NaN propagates). */
export function reduceRows(
  out: Float32Array,
  x: Float32Array,
  size: number,
  operation: ReduceOperation,
): Float32Array {
  for (let r = 0; r * size < x.length; r++) {
    const offset = r * size;
    let accumulator = operation === 'max' ? -Infinity : operation === 'min' ? Infinity : 0;
    for (let i = 0; i < size; i++) {
      const v = x[offset + i];
      if (operation === 'sum' || operation === 'mean') accumulator += v;
      else if (Number.isNaN(v)) accumulator = Number.NaN;
      else if (operation === 'max' ? v > accumulator : v < accumulator) accumulator = v;
      if (Number.isNaN(accumulator) && operation !== 'sum' && operation !== 'mean') break;
    }
    out[r] = operation === 'mean' ? accumulator / size : accumulator;
  }
  return out;
}
