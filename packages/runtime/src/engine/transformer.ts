// The decoder forward pass: embed -> layers (attention over a KVCacheV1, SwiGLU MLP) -> norm -> head.
// Batched: a call processes T tokens at once (prefill is one call), each linear is one matmul.
import type { KVCacheV1 } from '@meld/kv-cache';
import { matmulF32 as matmulCore, ValidationError } from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { type AttentionObserverV1, observedQueries } from './attention-observer';
import { addInPlace, rmsNorm, softmaxInPlace, swiglu } from './kernels';
import { applyLinear, type Linear } from './linear';
import { type ActiveAdapter, applyLoraDelta } from './lora';
import { applyRope, inverseFrequencies } from './rope';
import type { TransformerWeights } from './weights';

export interface RunLayersOptions {
  /** First layer to run (inclusive). */
  readonly start: number;
  /** Layer to stop before (exclusive). */
  readonly end: number;
  /** Position id of each of the T rows (RoPE position). */
  readonly positions: ArrayLike<number>;
  /** Receives each layer's keys and values; attention reads back from it. */
  readonly cache: KVCacheV1;
  readonly observers?: readonly AttentionObserverV1[];
  readonly adapters?: readonly ActiveAdapter[];
}

/** Decoding: one query (q[offset, offset + headDim)) over `length` slots; adds P V into out at `offset`. */
function singleQueryAttention(
  q: Float32Array,
  offset: number,
  keys: Float32Array,
  values: Float32Array,
  length: number,
  headDim: number,
  scale: number,
  scores: Float32Array,
  out: Float32Array,
): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < length; j++) {
    const ko = j * headDim;
    let s0 = 0;
    let s1 = 0;
    let d = 0;
    for (; d + 1 < headDim; d += 2) {
      s0 += q[offset + d] * keys[ko + d];
      s1 += q[offset + d + 1] * keys[ko + d + 1];
    }
    if (d < headDim) s0 += q[offset + d] * keys[ko + d];
    const score = (s0 + s1) * scale;
    scores[j] = score;
    if (score > max) max = score;
  }
  let sum = 0;
  for (let j = 0; j < length; j++) {
    const e = Math.exp(scores[j] - max);
    scores[j] = e;
    sum += e;
  }
  const inverse = 1 / sum;
  for (let j = 0; j < length; j++) {
    const weight = scores[j] * inverse;
    scores[j] = weight;
    const vo = j * headDim;
    for (let d = 0; d < headDim; d++) out[offset + d] += weight * values[vo + d];
  }
}

export class Transformer {
  readonly config: ModelConfig;
  readonly weights: TransformerWeights;
  private readonly inverseFrequency: Float64Array;
  private readonly buffers = new Map<string, Float32Array>();

  constructor(config: ModelConfig, weights: TransformerWeights) {
    this.config = config;
    this.weights = weights;
    this.inverseFrequency = inverseFrequencies(config);
  }

  /** Token embeddings: [T, hiddenSize]. */
  embed(tokens: ArrayLike<number>): Float32Array {
    const { hiddenSize, vocabSize } = this.config;
    const out = new Float32Array(tokens.length * hiddenSize);
    for (let t = 0; t < tokens.length; t++) {
      const token = tokens[t]!;
      if (!(Number.isInteger(token) && token >= 0 && token < vocabSize)) {
        throw new ValidationError(`tokens[${t}]`, `token id ${token} outside [0, ${vocabSize})`);
      }
      out.set(this.weights.embedTokens.row(token).toFloat32(), t * hiddenSize);
    }
    return out;
  }

  /** Final norm + LM head over the given rows of hidden states ([T, hiddenSize]): [rows.length, vocab]. */
  logits(
    hidden: Float32Array,
    rows: readonly number[],
    adapters: readonly ActiveAdapter[] = [],
  ): Float32Array {
    const { hiddenSize, vocabSize, rmsNormEps } = this.config;
    const selected = new Float32Array(rows.length * hiddenSize);
    rows.forEach((row, i) => {
      selected.set(hidden.subarray(row * hiddenSize, (row + 1) * hiddenSize), i * hiddenSize);
    });
    rmsNorm(selected, selected, this.weights.norm, rows.length, hiddenSize, rmsNormEps);
    const out = new Float32Array(rows.length * vocabSize);
    this.linear(this.weights.lmHead, out, selected, rows.length, adapters);
    return out;
  }

  /** Runs layers [start, end) on hidden states [T, hiddenSize], updating `hidden` in place (and returning it). */
  runLayers(hidden: Float32Array, options: RunLayersOptions): Float32Array {
    const { hiddenSize, numLayers } = this.config;
    const rows = options.positions.length;
    if (!(options.start >= 0 && options.end <= numLayers && options.start <= options.end)) {
      throw new ValidationError(
        'start/end',
        `layer range [${options.start}, ${options.end}) outside [0, ${numLayers}]`,
      );
    }
    if (hidden.length !== rows * hiddenSize) {
      throw new ValidationError('hidden', `expected ${rows} x ${hiddenSize} values, got ${hidden.length}`);
    }
    const positions = Int32Array.from(options.positions);
    for (let layer = options.start; layer < options.end; layer++) {
      this.layer(layer, hidden, rows, positions, options);
    }
    return hidden;
  }

  /** A reusable buffer of at least `size` floats (zeroed when `zero`), one per purpose. */
  private buffer(purpose: string, size: number, zero = false): Float32Array {
    let buffer = this.buffers.get(purpose);
    if (!buffer || buffer.length < size) {
      buffer = new Float32Array(size);
      this.buffers.set(purpose, buffer);
    } else if (zero) buffer.fill(0, 0, size);
    return buffer.length === size ? buffer : buffer.subarray(0, size);
  }

  private linear(
    linear: Linear,
    out: Float32Array,
    x: Float32Array,
    rows: number,
    adapters: readonly ActiveAdapter[],
  ): void {
    applyLinear(linear, out, x, rows);
    if (adapters.length > 0)
      applyLoraDelta(adapters, linear.name, out, x, rows, linear.inFeatures, linear.outFeatures);
  }

  private layer(
    layer: number,
    hidden: Float32Array,
    rows: number,
    positions: Int32Array,
    options: RunLayersOptions,
  ): void {
    const config = this.config;
    const { hiddenSize, numHeads, numKVHeads, headDim, intermediateSize, rmsNormEps } = config;
    const weights = this.weights.layers[layer]!;
    const adapters = options.adapters ?? [];
    const qWidth = numHeads * headDim;
    const kvWidth = numKVHeads * headDim;

    const normed = this.buffer('normed', rows * hiddenSize);
    rmsNorm(normed, hidden, weights.inputNorm, rows, hiddenSize, rmsNormEps);
    const q = this.buffer('q', rows * qWidth);
    const k = this.buffer('k', rows * kvWidth);
    const v = this.buffer('v', rows * kvWidth);
    this.linear(weights.q, q, normed, rows, adapters);
    this.linear(weights.k, k, normed, rows, adapters);
    this.linear(weights.v, v, normed, rows, adapters);
    applyRope(q, rows, numHeads, headDim, positions, this.inverseFrequency);
    applyRope(k, rows, numKVHeads, headDim, positions, this.inverseFrequency);
    options.cache.append(layer, k, v, positions);

    const attended = this.buffer('attended', rows * qWidth, true);
    this.attention(layer, q, attended, rows, positions, options);
    const projected = this.buffer('projected', rows * hiddenSize);
    this.linear(weights.o, projected, attended, rows, adapters);
    addInPlace(hidden, projected, rows * hiddenSize);

    rmsNorm(normed, hidden, weights.postAttentionNorm, rows, hiddenSize, rmsNormEps);
    const gate = this.buffer('gate', rows * intermediateSize);
    const up = this.buffer('up', rows * intermediateSize);
    this.linear(weights.gate, gate, normed, rows, adapters);
    this.linear(weights.up, up, normed, rows, adapters);
    swiglu(gate, up, rows * intermediateSize);
    this.linear(weights.down, projected, gate, rows, adapters);
    addInPlace(hidden, projected, rows * hiddenSize);
  }

  /**
   * Causal attention of the call's `rows` queries over each KV head's slots. The cache must keep the
   * `rows` slots just appended at the end of each head until this returns: query i sees slots
   * [0, length - rows + i].
   */
  /**
   * One query head over its KV head for a multi-token call, with the SIMD matmul:
   * scores = Q K^T / sqrt(d) (causal mask), softmax, out = P V. Same results as the row loop.
   */
  private batchedHeadAttention(
    head: number,
    q: Float32Array,
    out: Float32Array,
    rows: number,
    length: number,
    keys: Float32Array,
    values: Float32Array,
    scores: Float32Array,
    logits: Float32Array | undefined,
  ): void {
    const { numHeads, headDim } = this.config;
    const qWidth = numHeads * headDim;
    const before = length - rows;
    const scale = 1 / Math.sqrt(headDim);
    const queries = this.buffer('head-queries', rows * headDim);
    for (let i = 0; i < rows; i++)
      queries.set(q.subarray(i * qWidth + head * headDim, i * qWidth + (head + 1) * headDim), i * headDim);
    matmulCore(scores, queries, keys.subarray(0, length * headDim), rows, length, headDim, true);
    for (let i = 0; i < rows; i++) {
      const so = i * length;
      const visible = before + i + 1;
      for (let j = 0; j < visible; j++) scores[so + j] *= scale;
      for (let j = visible; j < length; j++) scores[so + j] = Number.NEGATIVE_INFINITY;
      if (logits) logits.set(scores.subarray(so, so + length), so);
      softmaxInPlace(scores, so, visible);
      for (let j = visible; j < length; j++) scores[so + j] = 0;
    }
    const result = this.buffer('head-result', rows * headDim);
    matmulCore(result, scores, values.subarray(0, length * headDim), rows, headDim, length, false);
    for (let i = 0; i < rows; i++) {
      const oo = i * qWidth + head * headDim;
      for (let d = 0; d < headDim; d++) out[oo + d] += result[i * headDim + d];
    }
  }

  private attention(
    layer: number,
    q: Float32Array,
    out: Float32Array,
    rows: number,
    positions: Int32Array,
    options: RunLayersOptions,
  ): void {
    const { numHeads, numKVHeads, headDim } = this.config;
    const cache = options.cache;
    const group = numHeads / numKVHeads;
    const qWidth = numHeads * headDim;
    const scale = 1 / Math.sqrt(headDim);
    const observers = options.observers?.length
      ? options.observers.filter((o) => !o.layers || o.layers.includes(layer))
      : [];
    const wantsStatistics = typeof cache.observeAttention === 'function';
    for (let kvHead = 0; kvHead < numKVHeads; kvHead++) {
      const view = cache.head(layer, kvHead);
      const length = view.length;
      const before = length - rows;
      if (before < 0)
        throw new ValidationError(
          'cache',
          `layer ${layer} head ${kvHead} holds ${length} slots after appending ${rows}`,
        );
      const keys = view.keys;
      const values = view.values;
      const scores = this.buffer('scores', rows * length);
      const logits = observers.some((o) => o.includeLogits)
        ? this.buffer('logits', rows * length)
        : undefined;
      for (let g = 0; g < group; g++) {
        const head = kvHead * group + g;
        if (rows === 1 && !logits) {
          singleQueryAttention(q, head * headDim, keys, values, length, headDim, scale, scores, out);
        } else if (rows >= 16) {
          this.batchedHeadAttention(head, q, out, rows, length, keys, values, scores, logits);
        } else
          for (let i = 0; i < rows; i++) {
            const qo = i * qWidth + head * headDim;
            const so = i * length;
            const visible = before + i + 1;
            if ((headDim & 3) === 0) {
              for (let j = 0; j < visible; j++) {
                const ko = j * headDim;
                let s0 = 0;
                let s1 = 0;
                let s2 = 0;
                let s3 = 0;
                for (let d = 0; d < headDim; d += 4) {
                  s0 += q[qo + d] * keys[ko + d];
                  s1 += q[qo + d + 1] * keys[ko + d + 1];
                  s2 += q[qo + d + 2] * keys[ko + d + 2];
                  s3 += q[qo + d + 3] * keys[ko + d + 3];
                }
                scores[so + j] = (s0 + s1 + (s2 + s3)) * scale;
              }
            } else {
              for (let j = 0; j < visible; j++) {
                const ko = j * headDim;
                let s = 0;
                for (let d = 0; d < headDim; d++) s += q[qo + d] * keys[ko + d];
                scores[so + j] = s * scale;
              }
            }
            for (let j = visible; j < length; j++) scores[so + j] = Number.NEGATIVE_INFINITY;
            if (logits) logits.set(scores.subarray(so, so + length), so);
            softmaxInPlace(scores, so, visible);
            for (let j = visible; j < length; j++) scores[so + j] = 0;
            const oo = i * qWidth + head * headDim;
            for (let j = 0; j < visible; j++) {
              const weight = scores[so + j];
              const vo = j * headDim;
              for (let d = 0; d < headDim; d++) out[oo + d] += weight * values[vo + d];
            }
          }
        for (const observer of observers) {
          const queryIndices = observedQueries(observer, rows);
          const weights = new Float32Array(queryIndices.length * length);
          const observedLogits = observer.includeLogits
            ? new Float32Array(queryIndices.length * length)
            : undefined;
          queryIndices.forEach((query, r) => {
            weights.set(scores.subarray(query * length, (query + 1) * length), r * length);
            if (observedLogits && logits)
              observedLogits.set(logits.subarray(query * length, (query + 1) * length), r * length);
          });
          observer.onAttention({
            layer,
            head,
            kvHead,
            queryIndices,
            queryPositions: Int32Array.from(queryIndices, (query) => positions[query]!),
            length,
            keyPositions: view.positions,
            weights,
            ...(observedLogits ? { logits: observedLogits } : {}),
          });
        }
        if (wantsStatistics) cache.observeAttention?.(layer, kvHead, head, scores, rows);
      }
    }
  }
}
