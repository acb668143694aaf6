// bench:homer quality: perplexity of the final 64 tokens of 1K-8K-token TinyStories inputs, and a
// recall probe (a name stated only at the start, scored where the text asks for it at the end), for
// HOMER vs the last 512 tokens, plain attention and RoPE position interpolation. Prefill time too.
import {
  type HomerCalibration,
  type HomerInput,
  homerLogLikelihood,
  homerPrefill,
} from '@meld/context-merge';
import type { Model } from '@meld/runtime';
import { lastWindow, mean, plainAttention, positionInterpolation } from './homer-baselines';

export const METHODS = ['homer', 'homerRaw', 'homerLong', 'last512', 'plain', 'pi'] as const;
export type Method = (typeof METHODS)[number];

export interface QualityRow {
  readonly length: number;
  readonly sample: number;
  /** Mean negative log-likelihood per scored token (nats), by method; absent when not run. */
  readonly nll: Partial<Record<Method, number>>;
  /** Milliseconds to read the input (HOMER prefill + scoring, or the one plain pass). */
  readonly ms: Partial<Record<Method, number>>;
}

export interface RecallRow {
  readonly length: number;
  readonly name: string;
  /** Log-probability of the name's tokens (sum), by method. */
  readonly logProb: Partial<Record<Method, number>>;
}

/** Suffix = the tail after the last sentence end among the final 64 tokens (at least 4 tokens). */
export function splitTail(model: Model, tokens: readonly number[]): HomerInput {
  const bos = tokens[0]!;
  let cut = tokens.length - 32;
  for (let i = tokens.length - 5; i >= Math.max(1, tokens.length - 64); i--) {
    if (/[.!?]/u.test(model.tokenizer.piece(tokens[i]!))) {
      cut = i + 1;
      break;
    }
  }
  return { prefix: [bos], context: tokens.slice(1, cut), suffix: tokens.slice(cut) };
}

function timed<T>(run: () => T): [T, number] {
  const start = performance.now();
  const value = run();
  return [value, performance.now() - start];
}

export function scoreAll(
  model: Model,
  tokens: readonly number[],
  scored: number,
  calibration: HomerCalibration | undefined,
  runPlain: boolean,
): { nll: QualityRow['nll']; ms: QualityRow['ms']; logProbs: Partial<Record<Method, Float64Array>> } {
  const head = tokens.slice(0, -scored);
  const tail = tokens.slice(-scored);
  const logProbs: Partial<Record<Method, Float64Array>> = {};
  const ms: QualityRow['ms'] = {};
  [logProbs.homer, ms.homer] = timed(() => {
    const prefill = homerPrefill(model, splitTail(model, head), calibration ? { calibration } : {});
    return homerLogLikelihood(model, prefill, tail);
  });
  [logProbs.homerRaw, ms.homerRaw] = timed(() =>
    homerLogLikelihood(model, homerPrefill(model, splitTail(model, head)), tail),
  );
  // Chunks as long as the context allows while leaving room for the scored tokens (the reference's
  // max_pos / 2 leaves room for generation instead).
  const maxChunkLength = model.config.contextLength - scored;
  [logProbs.homerLong, ms.homerLong] = timed(() => {
    const prefill = homerPrefill(model, splitTail(model, head), {
      maxChunkLength,
      ...(calibration ? { calibration } : {}),
    });
    return homerLogLikelihood(model, prefill, tail);
  });
  [logProbs.last512, ms.last512] = timed(() => lastWindow(model, tokens, scored));
  if (runPlain) {
    [logProbs.plain, ms.plain] = timed(() => plainAttention(model, tokens, scored));
    [logProbs.pi, ms.pi] = timed(() => positionInterpolation(model, tokens, scored));
  }
  const nll: QualityRow['nll'] = {};
  for (const method of METHODS) {
    const values = logProbs[method];
    if (values) nll[method] = -mean(values);
  }
  return { nll, ms, logProbs };
}

/** Consecutive stories from `offset` until `length` tokens (BOS first). */
export function inputOfLength(model: Model, text: string, offset: number, length: number): number[] {
  const tokens = model.encode(text.slice(offset, offset + length * 6), { addBos: true });
  if (tokens.length < length) throw new Error(`text from ${offset} gives only ${tokens.length} tokens`);
  return tokens.slice(0, length);
}

export const PROBE_NAMES = ['Lily', 'Max', 'Ben'];

/**
 * Recall input of about `length` tokens: "Once upon a time, there was a little friend named NAME."
 * then stories that never mention any probe name, then "The friend from the start was named" + NAME.
 * Returns the tokens and how many of the final ones are the name.
 */
export function recallInput(
  model: Model,
  stories: readonly string[],
  name: string,
  length: number,
): { tokens: number[]; scored: number } {
  const intro = `Once upon a time, there was a little friend named ${name}. ${name} liked to play.`;
  const question = 'The friend from the start was named';
  const nameTokens = model.encode(` ${name}`, { addBos: false });
  const end = model.encode(` ${question}`, { addBos: false });
  const start = model.encode(intro, { addBos: true });
  const filler: number[] = [];
  const budget = length - start.length - end.length - nameTokens.length;
  for (const story of stories) {
    if (filler.length >= budget) break;
    filler.push(...model.encode(` ${story}`, { addBos: false }));
  }
  const tokens = [...start, ...filler.slice(0, budget), ...end, ...nameTokens];
  return { tokens, scored: nameTokens.length };
}

export function storiesWithout(text: string, names: readonly string[]): string[] {
  return text
    .split(/\n\s*\n|<\|endoftext\|>/u)
    .map((story) => story.replace(/\s+/gu, ' ').trim())
    .filter((story) => story.length > 80 && !names.some((name) => story.includes(name)));
}
