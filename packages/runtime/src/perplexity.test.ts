import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { loadLlama2c } from './load/llama2c';
import type { Model } from './model';
import { perplexity, perplexityOfTokens } from './perplexity';
import { readReferenceWeights, referenceLogits } from './test-support/reference-forward';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

function referenceNll(logits: Float64Array[], tokens: number[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) {
    const row = logits[i - 1]!;
    const max = Math.max(...row);
    const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
    total += logSum - row[tokens[i]!]!;
  }
  return total;
}

describeWithShared('logLikelihood and perplexity', files, () => {
  let model: Model;
  let tokens: number[];
  let reference: Float64Array[];
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    tokens = model.encode(readFileSync(sharedFile(files[2]!), 'utf8').slice(0, 400)).slice(0, 96);
    reference = referenceLogits(readReferenceWeights(sharedFile(files[0]!)), tokens);
  });

  it('logLikelihood matches a float64 reference token by token', () => {
    const result = model.logLikelihood(tokens);
    expect(result.count).toBe(tokens.length - 1);
    expect(-result.sum).toBeCloseTo(referenceNll(reference, tokens, 1, tokens.length), 3);
  });

  it('one window covering the text gives exp(mean NLL) of the reference', () => {
    const result = perplexityOfTokens(model, tokens, { context: 128 });
    expect(result.windows).toBe(1);
    expect(result.meanNll).toBeCloseTo(
      referenceNll(reference, tokens, 1, tokens.length) / (tokens.length - 1),
      4,
    );
    expect(result.perplexity).toBeCloseTo(Math.exp(result.meanNll), 8);
  });

  it('sliding windows score every token once; the first window equals a full-context score', () => {
    const windowed = perplexityOfTokens(model, tokens, { context: 32, stride: 16 });
    expect(windowed.scoredTokens).toBe(tokens.length - 1);
    expect(windowed.windows).toBe(Math.ceil((tokens.length - 32) / 16) + 1);
    // Less context per token can only hurt on average; the numbers stay in a sane range.
    expect(windowed.meanNll).toBeGreaterThan(0.5);
    expect(windowed.meanNll).toBeLessThan(4);
    expect(perplexity(model, 'Once upon a time, there was a little girl.').scoredTokens).toBeGreaterThan(5);
  });
});
