// Autoregressive generation over a Transformer: one batched prefill of the prompt, then one token
// per step, streamed as an async iterator.
import type { KVCacheV1 } from '@meld/kv-cache';
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { ModelConfig } from '../config';
import type { AttentionObserverV1 } from '../engine/attention-observer';
import type { ActiveAdapter } from '../engine/lora';
import type { Transformer } from '../engine/transformer';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { Sampler, samplingOptionsSchema } from './sampler';
import { StopStringFilter } from './stop-strings';

export const generateOptionsSchema = samplingOptionsSchema.extend({
  /** New tokens to generate at most (default: until the context is full). */
  maxTokens: z.number().int().positive().optional(),
  stop: z.array(z.string()).optional(),
  /** Stop at these token ids in addition to the model's EOS (and BOS for llama2.c models). */
  stopTokens: z.array(z.number().int().nonnegative()).optional(),
  /** Ignore EOS/BOS stops. */
  ignoreEos: z.boolean().optional(),
});

export type GenerateOptions = z.input<typeof generateOptionsSchema> & {
  signal?: AbortSignal;
  /** The cache to use (fresh full cache by default). It may already hold earlier tokens. */
  cache?: KVCacheV1;
  /** Position id of the first input token (default: 0). */
  startPosition?: number;
  adapters?: readonly ActiveAdapter[];
  observers?: readonly AttentionObserverV1[];
};

export type FinishReason = 'stop' | 'length' | 'abort';

export type GenerationEvent =
  | {
      readonly type: 'token';
      readonly token: number;
      /** Text completed by this token (stop strings held back and cut). */
      readonly text: string;
    }
  | {
      readonly type: 'finish';
      readonly finishReason: FinishReason;
      /** Text still held back at the end (after stop-string filtering). */
      readonly text: string;
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly prefillMs: number;
      readonly decodeMs: number;
    };

export interface GenerationContext {
  readonly config: ModelConfig;
  readonly transformer: Transformer;
  readonly tokenizer: Tokenizer;
  createCache(): KVCacheV1;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function* generateTokens(
  context: GenerationContext,
  promptTokens: readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerationEvent> {
  const parsed = generateOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const settings = parsed.data;
  const { config, transformer, tokenizer } = context;
  if (promptTokens.length === 0) throw new ValidationError('prompt', 'needs at least one token (e.g. BOS)');
  const start = options.startPosition ?? 0;
  const contextLeft = config.contextLength - start - promptTokens.length;
  if (contextLeft < 0) {
    throw new ValidationError(
      'prompt',
      `${promptTokens.length} tokens from position ${start} exceed the context of ${config.contextLength}`,
    );
  }
  const cache = options.cache ?? context.createCache();
  const sampler = new Sampler(settings);
  const stopTokens = new Set(settings.stopTokens ?? []);
  if (!settings.ignoreEos) {
    for (const eos of config.eosTokenIds) stopTokens.add(eos);
    if (config.stopAtBos && config.bosTokenId !== undefined) stopTokens.add(config.bosTokenId);
  }
  // The last generated token may sit at position contextLength without being run (as llama2.c).
  const maxTokens = Math.min(settings.maxTokens ?? Number.POSITIVE_INFINITY, contextLeft + 1);
  const filter = new StopStringFilter(settings.stop ?? []);
  const decoder = tokenizer.createDecoder(promptTokens[promptTokens.length - 1]);
  const history = [...promptTokens];
  const run = { cache, adapters: options.adapters ?? [], observers: options.observers ?? [] };

  const prefillStart = performance.now();
  const hidden = transformer.embed(promptTokens);
  transformer.runLayers(hidden, {
    start: 0,
    end: config.numLayers,
    positions: Int32Array.from(promptTokens, (_, i) => start + i),
    ...run,
  });
  let logits = transformer.logits(hidden, [promptTokens.length - 1], run.adapters);
  const prefillMs = performance.now() - prefillStart;
  const decodeStart = performance.now();
  let position = start + promptTokens.length;
  let generated = 0;
  let finishReason: FinishReason = 'length';
  while (generated < maxTokens) {
    if (options.signal?.aborted) {
      finishReason = 'abort';
      break;
    }
    const token = sampler.sample(logits, history);
    if (stopTokens.has(token)) {
      finishReason = 'stop';
      break;
    }
    generated++;
    history.push(token);
    const text = filter.push(decoder.push(token));
    yield { type: 'token', token, text };
    if (filter.stopped) {
      finishReason = 'stop';
      break;
    }
    if (generated >= maxTokens) break;
    // The step's logits live in a buffer the transformer reuses (the sampler reads it before the next step).
    logits = transformer.decodeStep(token, position, run);
    position++;
    await yieldToEventLoop();
  }
  const tail = filter.stopped ? '' : filter.push(decoder.flush()) + filter.flush();
  yield {
    type: 'finish',
    finishReason,
    text: tail,
    promptTokens: promptTokens.length,
    completionTokens: generated,
    prefillMs,
    decodeMs: performance.now() - decodeStart,
  };
}
