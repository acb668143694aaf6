// Counter-based random numbers: the value for element i of a tensor depends only on (key, i), never
// on how the tensor was split into chunks or in which order chunks ran. This is what makes DARE and
// DELLA reproducible from a seed while tensors stream through in row chunks.

/** 32-bit FNV-1a of a string. */
export function hashString(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The stream key for one (seed, tensor, model) triple. */
export function randomKey(seed: number, tensorName: string, stream: number): number {
  return mix32(hashString(tensorName, mix32(seed >>> 0) ^ 0x9e3779b9) ^ mix32(stream + 0x632be5ab));
}

/** A uniform number in [0, 1) for element `index` of stream `key` (53-bit from two 32-bit hashes). */
export function uniformAt(key: number, index: number): number {
  const low = mix32((key ^ mix32(index >>> 0)) + 0x9e3779b9);
  const high = mix32(low ^ (index / 4294967296) ^ key);
  return ((high >>> 5) * 67108864 + (low >>> 6)) / 9007199254740992;
}

/** DARE keep in place: element i survives when uniformAt(key, offset + i) < density, scaled by factor. */
export function applyBernoulli(
  values: Float32Array,
  offset: number,
  key: number,
  density: number,
  factor: number,
): void {
  for (let i = 0; i < values.length; i++) {
    values[i] = uniformAt(key, offset + i) < density ? values[i]! * factor : 0;
  }
}

/** Ranks (0-based, ascending |x|, ties by index) of one row, normalised to [0, 1]. */
export function normalisedRowRanks(row: Float32Array, keys: Float64Array, ranks: Float32Array): void {
  const n = row.length;
  const bits = new Uint32Array(1);
  const floats = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    floats[0] = Math.abs(row[i]!);
    keys[i] = bits[0]! * n + i; // exact below 2^53 for rows up to 2^21 elements
  }
  const sorted = keys.subarray(0, n).sort();
  for (let r = 0; r < n; r++) {
    const index = sorted[r]! % n;
    ranks[index] = n > 1 ? r / (n - 1) : 0.5;
  }
}

/**
 * DELLA's keep, in place, row by row (whole rows of `rowLength`; `offset` is the first element's
 * index in the tensor): element i of a row is kept with probability p = density − ε + 2ε·rank/(n−1)
 * (rank of |x| in its row) and rescaled by 1/p (`inverse`) or by `factor`; the rest become 0.
 * Top level, calling only this module's functions: row workers run it from its source.
 */
export function applyDella(
  values: Float32Array,
  offset: number,
  rowLength: number,
  key: number,
  density: number,
  epsilon: number,
  factor: number,
  inverse: boolean,
): void {
  const keys = new Float64Array(rowLength);
  const ranks = new Float32Array(rowLength);
  for (let start = 0; start < values.length; start += rowLength) {
    const row = values.subarray(start, start + rowLength);
    normalisedRowRanks(row, keys, ranks);
    for (let i = 0; i < rowLength; i++) {
      const p = density - epsilon + 2 * epsilon * ranks[i]!;
      const v = row[i]!;
      row[i] = uniformAt(key, offset + start + i) < p ? (inverse ? v / p : v * factor) : 0;
    }
  }
}
