// Attention observers: see the attention of chosen queries, per layer and head, during the normal
// forward pass (no second pass). HOMER, H2O/CaM/KVMerger-style policies and MKA build on this.

/** One (layer, query head) of one forward call. Arrays are views valid only during the callback. */
export interface AttentionEvent {
  readonly layer: number;
  readonly head: number;
  /** The KV head this query head reads (GQA). */
  readonly kvHead: number;
  /** Indices, within this call's tokens, of the reported queries. */
  readonly queryIndices: Int32Array;
  /** Position ids of the reported queries. */
  readonly queryPositions: Int32Array;
  /** Number of cache slots attended over (columns of weights and logits). */
  readonly length: number;
  /** Position id of every slot (the cache head's positions, first `length` live). */
  readonly keyPositions: Int32Array;
  /** [queries, length] softmax weights; masked (future) slots are 0. */
  readonly weights: Float32Array;
  /** [queries, length] pre-softmax scores q·k/sqrt(headDim); masked slots are -Infinity. Only when requested. */
  readonly logits?: Float32Array;
}

export interface AttentionObserverV1 {
  readonly specificationVersion: 'v1';
  /** Layers to report; all when omitted. */
  readonly layers?: readonly number[];
  /** Which of the call's queries: the last one (default), all, or indices within the call. */
  readonly queries?: 'last' | 'all' | readonly number[];
  /** Also pass the pre-softmax scores. */
  readonly includeLogits?: boolean;
  onAttention(event: AttentionEvent): void;
}

/** Query indices an observer wants among `count` queries of this call. */
export function observedQueries(observer: AttentionObserverV1, count: number): Int32Array {
  const queries = observer.queries ?? 'last';
  if (queries === 'last') return Int32Array.of(count - 1);
  if (queries === 'all') return Int32Array.from({ length: count }, (_, i) => i);
  return Int32Array.from(queries.filter((q) => q >= 0 && q < count));
}
