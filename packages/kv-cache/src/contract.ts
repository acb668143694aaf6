// The KV-cache contract between @meld/runtime (which writes keys and values) and the cache
// implementations and compression policies of this package (which store, evict and merge them).
//
// Layout: per layer and per KV head, a list of slots. A slot holds one key and one value vector
// (headDim floats each, keys already rotated by RoPE), the position id the token had, and the
// statistics policies need. Different heads of a layer may hold different numbers of slots after
// head-wise compression, so runtime iterates each KV head's own slots when computing attention.

/** What the model tells the cache about its shape. */
export interface KVCacheShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** A read-only view of one (layer, KV head): the first `length` rows of each array are live. */
export interface KVHeadView {
  readonly length: number;
  /** [length, headDim] row-major; rows past `length` are garbage. Valid until the next write. */
  readonly keys: Float32Array;
  /** [length, headDim] row-major. */
  readonly values: Float32Array;
  /** Position id of each slot (the token's RoPE position). */
  readonly positions: Int32Array;
}

export interface KVCacheV1 {
  readonly specificationVersion: 'v1';
  readonly shape: KVCacheShape;

  /**
   * Append `count` tokens to every KV head of `layer`.
   * keys / values: [count, kvHeads * headDim] row-major (token-major, as the projection outputs them).
   */
  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>): void;

  /** The live slots of one (layer, KV head). */
  head(layer: number, kvHead: number): KVHeadView;

  /**
   * Attention observers call this after computing softmax weights, so policies that need
   * accumulated attention (H2O, CaM, KVMerger's pivot) get it without a second forward pass.
   * weights: [queries, length] for one query head mapped to `kvHead` (each row sums to 1).
   * Caches that keep no statistics may ignore it.
   */
  observeAttention?(
    layer: number,
    kvHead: number,
    queryHead: number,
    weights: Float32Array,
    queries: number,
  ): void;

  /** Live slots of the longest head of `layer` (the sequence length the cache holds). */
  length(layer: number): number;

  /** Exact bytes held by live slots (keys + values + positions + statistics). */
  bytes(): number;

  /** Highest `bytes()` seen since creation or the last `resetPeak()`. */
  peakBytes(): number;

  /** Restart peak tracking from the current `bytes()` (e.g. between requests). */
  resetPeak?(): void;

  /** Drop everything. */
  clear(): void;
}
