// Scoring a known continuation after a HOMER prefill (teacher forcing): log p(tokens[0]) from the
// prefill's last logits, then one batched pass of tokens[0..n-2] over a copy of the merged cache at
// positions lastPosition + 1, ... (the prefill's own cache is left as it was).
import type { Model } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import { ChunkKVCache } from './chunk-cache';
import type { HomerResult } from './homer';

/** Natural-log probability of each of `tokens` given the input and the tokens before it. */
export function homerLogLikelihood(
  model: Model,
  prefill: HomerResult,
  tokens: readonly number[],
): Float64Array {
  if (tokens.length === 0) throw new ValidationError('tokens', 'needs at least one token');
  const start = prefill.lastPosition + 1;
  if (start + tokens.length - 1 > model.config.contextLength) {
    throw new ValidationError('tokens', `${tokens.length} tokens from position ${start} pass the context`);
  }
  const vocab = model.config.vocabSize;
  const out = new Float64Array(tokens.length);
  out[0] = logSoftmaxAt(prefill.logits, 0, vocab, tokens[0]!);
  if (tokens.length === 1) return out;
  const cache = new ChunkKVCache(prefill.cache.shape);
  prefill.cache.copyInto(cache);
  const inputs = tokens.slice(0, -1);
  const hidden = model.embed(inputs);
  model.runLayers(hidden, {
    start: 0,
    end: model.config.numLayers,
    positions: Int32Array.from(inputs, (_, i) => start + i),
    cache,
  });
  const logits = model.logits(
    hidden,
    inputs.map((_, i) => i),
  );
  for (let i = 1; i < tokens.length; i++) out[i] = logSoftmaxAt(logits, (i - 1) * vocab, vocab, tokens[i]!);
  return out;
}

/** log softmax(logits[offset .. offset + vocab))[token], in float64. */
export function logSoftmaxAt(logits: Float32Array, offset: number, vocab: number, token: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let total = 0;
  for (let v = 0; v < vocab; v++) total += Math.exp(logits[offset + v]! - max);
  return logits[offset + token]! - max - Math.log(total);
}
