// Perplexity of a model over a text, llama.cpp / HF style: windows of `context` tokens advancing by
// `stride`; every token is scored once, with as much preceding context as the window gives it.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { ActiveAdapter } from './engine/lora';
import type { Model } from './model';

export const perplexityOptionsSchema = z.object({
  /** Window length in tokens (default: the model's context length). */
  context: z.number().int().min(2).optional(),
  /** How far each window advances (default: context / 2). */
  stride: z.number().int().positive().optional(),
  /** Stop after this many scored tokens. */
  maxTokens: z.number().int().positive().optional(),
});

export type PerplexityOptions = z.input<typeof perplexityOptionsSchema> & {
  adapters?: readonly ActiveAdapter[];
  onProgress?: (event: { type: 'window-end'; scored: number; total: number }) => void;
};

export interface PerplexityResult {
  /** Mean negative log-likelihood per scored token (nats). */
  readonly meanNll: number;
  readonly perplexity: number;
  readonly scoredTokens: number;
  readonly windows: number;
}

/** Scores `tokens` (BOS included if wanted) with sliding windows. */
export function perplexityOfTokens(
  model: Model,
  tokens: readonly number[],
  options: PerplexityOptions = {},
): PerplexityResult {
  const parsed = perplexityOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const context = Math.min(parsed.data.context ?? model.config.contextLength, model.config.contextLength);
  const stride = parsed.data.stride ?? Math.max(1, Math.floor(context / 2));
  if (stride > context)
    throw new ValidationError('options.stride', `stride ${stride} exceeds the context ${context}`);
  const limit = Math.min(tokens.length, (parsed.data.maxTokens ?? Number.POSITIVE_INFINITY) + 1);
  if (limit < 2) throw new ValidationError('text', 'needs at least two tokens');
  let total = 0;
  let scored = 0;
  let windows = 0;
  let scoredUpTo = 1; // tokens[0] is never scored
  for (let start = 0; scoredUpTo < limit; start += stride) {
    const end = Math.min(start + context, limit);
    const window = tokens.slice(start, end);
    const from = scoredUpTo - start;
    const result = model.logLikelihood(window, {
      from,
      ...(options.adapters ? { adapters: options.adapters } : {}),
    });
    total -= result.sum;
    scored += result.count;
    scoredUpTo = end;
    windows++;
    options.onProgress?.({ type: 'window-end', scored, total: limit - 1 });
    if (end === limit) break;
  }
  const meanNll = total / scored;
  return { meanNll, perplexity: Math.exp(meanNll), scoredTokens: scored, windows };
}

/** Perplexity of a text (encoded with BOS as the tokenizer does by default). */
export function perplexity(model: Model, text: string, options: PerplexityOptions = {}): PerplexityResult {
  return perplexityOfTokens(model, model.encode(text), options);
}
