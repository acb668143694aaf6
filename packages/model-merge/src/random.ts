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
