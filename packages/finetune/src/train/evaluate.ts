// Mean token loss and perplexity of a model (optionally with LoRA factors) on packed rows, no tape.
import { crossEntropy } from '../autodiff/cross-entropy';
import { Tape } from '../autodiff/tape';
import type { PackedRow } from '../data/packing';
import type { LoraParameters } from '../lora/lora-parameters';
import { type FrozenModel, trainForward } from '../model/train-forward';
import { BatchPlan } from './batches';

export interface EvaluationResult {
  /** Mean negative log-likelihood per counted token (nats). */
  loss: number;
  perplexity: number;
  tokens: number;
}

export function evaluateRows(
  model: FrozenModel,
  rows: readonly PackedRow[],
  options: { lora?: LoraParameters; batchSize?: number } = {},
): EvaluationResult {
  const batchSize = options.batchSize ?? 8;
  let sum = 0;
  let count = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const n = Math.min(batchSize, rows.length - start);
    // Evaluate rows in their stored order: build the batch directly rather than through the permutation.
    const stacked = new BatchPlan(rows.slice(start, start + n), 0);
    const { tokens, targets, weights } = stacked.batch(0, n);
    const logits = trainForward(new Tape(false), model, tokens, options.lora ? { lora: options.lora } : {});
    const result = crossEntropy(new Tape(false), logits, targets, weights);
    sum += result.sum;
    count += result.count;
  }
  const loss = sum / Math.max(1, count);
  return { loss, perplexity: Math.exp(loss), tokens: count };
}
