// The decoder forward pass: embed -> layers (attention over a KVCacheV1, SwiGLU MLP) -> norm -> head.
// Batched: a call processes T tokens at once (prefill is one call), each linear is one matmul.
import type { KVCacheV1 } from '@meld/kv-cache';
import {
  add,
  createSimdArena,
  matmulF32 as matmulCore,
  rmsnorm,
  type SimdArena,
  simdSupported,
  softmax,
  swiglu,
  ValidationError,
} from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { type AttentionObserverV1, observedQueries } from './attention-observer';
import { applyLinear, type Linear } from './linear';
import { type ActiveAdapter, applyLoraDelta } from './lora';
import { applyRopeAngles, inverseFrequencies, type RopeAngles, ropeAngles } from './rope';
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

/**
 * Decoding: one query (q[offset, offset + headDim)) over `length` slots; adds P V into out at `offset`
 * and leaves the softmax weights in scores[0, length). headDim % 4 == 0: four independent accumulators
 * for q·k and four slots per pass over the output for P V (fewer loads and stores of `out`).
 */
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
  const qEnd = offset + headDim;
  for (let j = 0; j < length; j++) {
    let ko = j * headDim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let d = offset; d < qEnd; d += 4, ko += 4) {
      s0 += q[d] * keys[ko];
      s1 += q[d + 1] * keys[ko + 1];
      s2 += q[d + 2] * keys[ko + 2];
      s3 += q[d + 3] * keys[ko + 3];
    }
    const score = (s0 + s1 + (s2 + s3)) * scale;
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
  for (let j = 0; j < length; j++) scores[j] *= inverse;
  let j = 0;
  for (; j + 3 < length; j += 4) {
    const w0 = scores[j];
    const w1 = scores[j + 1];
    const w2 = scores[j + 2];
    const w3 = scores[j + 3];
    const v0 = j * headDim;
    const v1 = v0 + headDim;
    const v2 = v1 + headDim;
    const v3 = v2 + headDim;
    for (let d = 0; d < headDim; d++) {
      out[offset + d] +=
        w0 * values[v0 + d] + w1 * values[v1 + d] + (w2 * values[v2 + d] + w3 * values[v3 + d]);
    }
  }
  for (; j < length; j++) {
    const weight = scores[j];
    const vo = j * headDim;
    for (let d = 0; d < headDim; d++) out[offset + d] += weight * values[vo + d];
  }
}

export class Transformer {
  readonly config: ModelConfig;
  readonly weights: TransformerWeights;
  private readonly inverseFrequency: Float64Array;
  private readonly buffers = new Map<string, Float32Array>();
  private readonly stepPosition = new Int32Array(1);
  /** Scratch memory of the WebAssembly SIMD single-query attention (decoding), where supported. */
  private simdScratch: SimdArena | null | undefined;

  /** Created on the first decoding step (null where WebAssembly SIMD is unavailable). */
  private get attentionArena(): SimdArena | undefined {
    if (this.simdScratch === undefined) this.simdScratch = simdSupported() ? createSimdArena() : null;
    return this.simdScratch ?? undefined;
  }

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
    rmsnorm(selected, selected, this.weights.norm, rmsNormEps);
    const out = new Float32Array(rows.length * vocabSize);
    this.linear(this.weights.lmHead, out, selected, rows.length, adapters);
    return out;
  }

  /**
   * One decoding step: embeds `token` at `position`, runs every layer and returns the logits
   * ([vocabSize]) in a buffer this transformer reuses: valid until the next `decodeStep` call.
   * Same arithmetic as embed -> runLayers -> logits, without their per-call allocations.
   */
  decodeStep(
    token: number,
    position: number,
    options: Omit<RunLayersOptions, 'start' | 'end' | 'positions'>,
  ): Float32Array {
    const { hiddenSize, vocabSize, rmsNormEps, numLayers } = this.config;
    if (!(Number.isInteger(token) && token >= 0 && token < vocabSize)) {
      throw new ValidationError('token', `token id ${token} outside [0, ${vocabSize})`);
    }
    const hidden = this.buffer('step-hidden', hiddenSize);
    const embedding = this.weights.embedTokens.row(token);
    const data = embedding.data;
    hidden.set(data instanceof Float32Array ? data : embedding.toFloat32());
    this.stepPosition[0] = position;
    const runOptions: RunLayersOptions = {
      ...options,
      start: 0,
      end: numLayers,
      positions: this.stepPosition,
    };
    const angles = this.anglesFor(this.stepPosition);
    for (let layer = 0; layer < numLayers; layer++)
      this.layer(layer, hidden, 1, this.stepPosition, angles, runOptions);
    const normed = this.buffer('step-normed', hiddenSize);
    rmsnorm(normed, hidden, this.weights.norm, rmsNormEps);
    const out = this.buffer('step-logits', vocabSize);
    this.linear(this.weights.lmHead, out, normed, 1, options.adapters ?? []);
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
    const positions =
      options.positions instanceof Int32Array ? options.positions : Int32Array.from(options.positions);
    const angles = this.anglesFor(positions);
    for (let layer = options.start; layer < options.end; layer++) {
      this.layer(layer, hidden, rows, positions, angles, options);
    }
    return hidden;
  }

  private angles: RopeAngles = { cos: new Float64Array(0), sin: new Float64Array(0) };

  /** RoPE cos/sin for this call's positions, computed once and shared by every layer of the call. */
  private anglesFor(positions: Int32Array): RopeAngles {
    const size = positions.length * this.inverseFrequency.length;
    if (this.angles.cos.length < size)
      this.angles = { cos: new Float64Array(size), sin: new Float64Array(size) };
    ropeAngles(this.angles, positions.length, positions, this.inverseFrequency);
    return this.angles;
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
    angles: RopeAngles,
    options: RunLayersOptions,
  ): void {
    const config = this.config;
    const { hiddenSize, numHeads, numKVHeads, headDim, intermediateSize, rmsNormEps } = config;
    const weights = this.weights.layers[layer]!;
    const adapters = options.adapters ?? [];
    const qWidth = numHeads * headDim;
    const kvWidth = numKVHeads * headDim;

    const normed = this.buffer('normed', rows * hiddenSize);
    rmsnorm(normed, hidden, weights.inputNorm, rmsNormEps);
    const q = this.buffer('q', rows * qWidth);
    const k = this.buffer('k', rows * kvWidth);
    const v = this.buffer('v', rows * kvWidth);
    this.linear(weights.q, q, normed, rows, adapters);
    this.linear(weights.k, k, normed, rows, adapters);
    this.linear(weights.v, v, normed, rows, adapters);
    applyRopeAngles(q, rows, numHeads, headDim, angles);
    applyRopeAngles(k, rows, numKVHeads, headDim, angles);
    options.cache.append(layer, k, v, positions);

    const attended = this.buffer('attended', rows * qWidth, true);
    this.attention(layer, q, attended, rows, positions, options);
    const projected = this.buffer('projected', rows * hiddenSize);
    this.linear(weights.o, projected, attended, rows, adapters);
    add(hidden, hidden, projected);

    rmsnorm(normed, hidden, weights.postAttentionNorm, rmsNormEps);
    const gate = this.buffer('gate', rows * intermediateSize);
    const up = this.buffer('up', rows * intermediateSize);
    this.linear(weights.gate, gate, normed, rows, adapters);
    this.linear(weights.up, up, normed, rows, adapters);
    swiglu(gate, gate, up);
    this.linear(weights.down, projected, gate, rows, adapters);
    add(hidden, hidden, projected);
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
      const row = scores.subarray(so, so + visible);
      softmax(row, row);
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
      // Decoding with 16 | headDim: the group's query heads share one copy of K and V into SIMD scratch.
      const arena = rows === 1 && !logits && headDim % 16 === 0 ? this.attentionArena : undefined;
      const groupScores = arena ? this.buffer('group-scores', group * length) : undefined;
      if (arena && groupScores)
        arena.attendSingleQuery(
          out,
          q,
          kvHead * group,
          group,
          keys,
          values,
          length,
          headDim,
          scale,
          groupScores,
        );
      const reports = observers.length > 0 || wantsStatistics;
      for (let g = 0; g < group; g++) {
        const head = kvHead * group + g;
        let headScores = scores;
        if (groupScores) {
          if (reports) headScores = groupScores.subarray(g * length, (g + 1) * length);
        } else if (rows === 1 && !logits && (headDim & 3) === 0) {
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
            const row = scores.subarray(so, so + visible);
            softmax(row, row);
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
            weights.set(headScores.subarray(query * length, (query + 1) * length), r * length);
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
        if (wantsStatistics) cache.observeAttention?.(layer, kvHead, head, headScores, rows);
      }
    }
  }
}
