// Baselines for bench:homer on the same tokens: (a) the last `context` tokens only, (b) plain
// attention over the whole input (positions past the trained context), (c) linear RoPE position
// interpolation (positions squeezed by total / context). All score the final `scored` tokens.

import { logSoftmaxAt } from '@meld/context-merge';
import { createFullCache } from '@meld/kv-cache';
import { type Model, Transformer } from '@meld/runtime';

/** log p of tokens[n - scored ..] given everything before, one batched pass of `transformer`. */
export function scoreTail(transformer: Transformer, tokens: readonly number[], scored: number): Float64Array {
  const config = transformer.config;
  const cache = createFullCache({
    layers: config.numLayers,
    kvHeads: config.numKVHeads,
    headDim: config.headDim,
  });
  const inputs = tokens.slice(0, -1);
  const hidden = transformer.embed(inputs);
  transformer.runLayers(hidden, {
    start: 0,
    end: config.numLayers,
    positions: Int32Array.from(inputs, (_, i) => i),
    cache,
  });
  const first = tokens.length - scored;
  const rows = Array.from({ length: scored }, (_, i) => first - 1 + i);
  const logits = transformer.logits(hidden, rows);
  return Float64Array.from(rows, (_, i) =>
    logSoftmaxAt(logits, i * config.vocabSize, config.vocabSize, tokens[first + i]!),
  );
}

export function lastWindow(model: Model, tokens: readonly number[], scored: number): Float64Array {
  const context = model.config.contextLength;
  const bos = model.config.bosTokenId ?? 1;
  const window = tokens.length <= context ? tokens : [bos, ...tokens.slice(tokens.length - context + 1)];
  return scoreTail(model.transformer, window, scored);
}

export function plainAttention(model: Model, tokens: readonly number[], scored: number): Float64Array {
  return scoreTail(model.transformer, tokens, scored);
}

export function positionInterpolation(model: Model, tokens: readonly number[], scored: number): Float64Array {
  const factor = Math.max(1, tokens.length / model.config.contextLength);
  const config = { ...model.config, ropeScaling: { type: 'linear' as const, factor } };
  return scoreTail(new Transformer(config, model.transformer.weights), tokens, scored);
}

export const mean = (values: ArrayLike<number>) =>
  Array.from(values).reduce((a, b) => a + b, 0) / values.length;
