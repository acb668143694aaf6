// Generation after a HOMER prefill, through runtime: the first token comes from the prefill's
// logits (as the reference's generate does), the rest from runtime's generator continuing the
// merged cache at lastPosition + 1 (position ids stay inside the trained context).
import type { KVCacheV1 } from '@meld/kv-cache';
import { type GenerateOptions, type GenerationEvent, type Model, Sampler } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import type { HomerResult } from './homer';

export type HomerGenerateOptions = Omit<GenerateOptions, 'cache' | 'startPosition'> & {
  /**
   * An empty cache to continue in (e.g. a kv-cache CompressedKVCache); the merged tokens are copied
   * into it first. Default: the prefill's own cache.
   */
  readonly cache?: KVCacheV1;
  /** The input's last token (for detokenizing the first generated token; default: none). */
  readonly lastInputToken?: number;
};

export async function* homerGenerate(
  model: Model,
  prefill: HomerResult,
  options: HomerGenerateOptions = {},
): AsyncGenerator<GenerationEvent> {
  const { cache: target, lastInputToken, ...rest } = options;
  const cache = target ?? prefill.cache;
  if (target) {
    if (target.length(0) !== 0) throw new ValidationError('options.cache', 'must be empty');
    prefill.cache.copyInto(target);
  }
  const config = model.config;
  const start = prefill.lastPosition + 1;
  const maxTokens = Math.min(rest.maxTokens ?? Number.POSITIVE_INFINITY, config.contextLength - start + 1);
  if (maxTokens < 1) throw new ValidationError('options.maxTokens', 'no room left in the context');
  const started = performance.now();
  const sampler = new Sampler(rest);
  const first = sampler.sample(Float32Array.from(prefill.logits));
  const stopTokens = new Set(rest.stopTokens ?? []);
  if (!rest.ignoreEos) {
    for (const eos of config.eosTokenIds) stopTokens.add(eos);
    if (config.stopAtBos && config.bosTokenId !== undefined) stopTokens.add(config.bosTokenId);
  }
  if (stopTokens.has(first)) {
    yield finish('stop', '', prefill.inputTokens, 0, performance.now() - started);
    return;
  }
  const decoder = model.tokenizer.createDecoder(lastInputToken);
  yield { type: 'token', token: first, text: decoder.push(first) };
  if (maxTokens === 1) {
    yield finish('length', '', prefill.inputTokens, 1, performance.now() - started);
    return;
  }
  // Derive the continuation's seed so its draws differ from the first token's.
  const seed = rest.seed === undefined ? undefined : rest.seed + 1;
  for await (const event of model.generate([first], {
    ...rest,
    ...(seed === undefined ? {} : { seed }),
    maxTokens: maxTokens - 1,
    cache,
    startPosition: start,
  })) {
    if (event.type === 'token') yield event;
    else yield { ...event, promptTokens: prefill.inputTokens, completionTokens: event.completionTokens + 1 };
  }
}

function finish(
  finishReason: 'stop' | 'length',
  text: string,
  promptTokens: number,
  completionTokens: number,
  decodeMs: number,
): GenerationEvent {
  return { type: 'finish', finishReason, text, promptTokens, completionTokens, prefillMs: 0, decodeMs };
}
