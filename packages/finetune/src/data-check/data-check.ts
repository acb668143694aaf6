// Platypus's data checks on a training set (and a test set): near-duplicates removed within the
// training set, then training items too close to a test item removed, by n-gram overlap
// (deterministic) and, when an embedding function is given, by cosine similarity of embeddings.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { recordKeyText, type TrainingRecord } from '../data/records';
import type { EmbeddingFunction } from './embedders';
import { contaminationByNgram, dedupByNgram } from './ngram';
import { contaminationByCosine, dedupByCosine } from './similarity';

export const dataCheckOptionsSchema = z.object({
  /** Cosine above which a training item duplicates an earlier kept one (Platypus: 0.7). */
  dedupThreshold: z.number().min(-1).max(1).default(0.7),
  /** Cosine at or above which a test item's nearest training item is removed (Platypus: 0.8). */
  contaminationThreshold: z.number().min(-1).max(1).default(0.8),
  /** Word n-gram length for the overlap checks. */
  ngram: z.number().int().positive().default(13),
  /** Share of an item's n-grams found in one earlier kept item that makes it a duplicate. */
  ngramDedupThreshold: z.number().min(0).max(1).default(0.7),
  /** Which checks run; default: n-gram, plus embedding when an embedding function is given. */
  methods: z
    .array(z.enum(['ngram', 'embedding']))
    .min(1)
    .optional(),
});
export type DataCheckOptions = z.output<typeof dataCheckOptionsSchema>;

export interface Removal {
  /** Index of the removed training record (0-based, in input order). */
  index: number;
  reason: 'duplicate' | 'contamination';
  method: 'ngram' | 'embedding';
  matchedSet: 'train' | 'test';
  matchedIndex: number;
  /** Cosine (embedding) or share of shared n-grams (ngram). */
  similarity: number;
  /** For n-gram contamination: one shared n-gram. */
  ngram?: string;
  text: string;
  matchedText: string;
}

export interface DataCheckReport {
  specificationVersion: 'v1';
  options: DataCheckOptions;
  methods: Array<'ngram' | 'embedding'>;
  trainCount: number;
  testCount: number;
  kept: number[];
  removed: Removal[];
}

export type DataCheckProgressEvent =
  | { type: 'embedding-start'; set: 'train' | 'test'; count: number }
  | { type: 'embedding-end'; set: 'train' | 'test' }
  | { type: 'check-end'; check: string; removed: number };

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

export async function checkData(input: {
  train: readonly TrainingRecord[];
  test?: readonly TrainingRecord[];
  embed?: EmbeddingFunction;
  options?: z.input<typeof dataCheckOptionsSchema>;
  onProgress?: (event: DataCheckProgressEvent) => void;
}): Promise<DataCheckReport> {
  const parsed = dataCheckOptionsSchema.safeParse(input.options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue.path.join('.')}`, issue.message);
  }
  const options = parsed.data;
  const methods = options.methods ?? (input.embed ? ['ngram', 'embedding'] : ['ngram']);
  if (methods.includes('embedding') && !input.embed) {
    throw new ValidationError('options.methods', "'embedding' needs an embedding function");
  }
  const useNgram = methods.includes('ngram');
  const embed = methods.includes('embedding') ? input.embed : undefined;
  const trainTexts = input.train.map(recordKeyText);
  const testTexts = (input.test ?? []).map(recordKeyText);
  const removed: Removal[] = [];
  const note = (
    matches: Array<{ index: number; matchedIndex: number; similarity: number; ngram?: string }>,
    reason: Removal['reason'],
    method: Removal['method'],
  ) => {
    for (const m of matches) {
      const matchedSet = reason === 'duplicate' ? 'train' : 'test';
      removed.push({
        ...m,
        reason,
        method,
        matchedSet,
        text: excerpt(trainTexts[m.index]),
        matchedText: excerpt((matchedSet === 'train' ? trainTexts : testTexts)[m.matchedIndex]),
      });
    }
    input.onProgress?.({ type: 'check-end', check: `${method} ${reason}`, removed: matches.length });
  };

  // 1. n-gram near-duplicates, 2. embedding near-duplicates, 3. contamination (n-gram, then embedding).
  let candidates = trainTexts.map((_, i) => i);
  if (useNgram) {
    const ngramDedup = dedupByNgram(trainTexts, options.ngram, options.ngramDedupThreshold, candidates);
    note(ngramDedup.removed, 'duplicate', 'ngram');
    candidates = ngramDedup.kept;
  }

  let trainVectors: Float32Array[] | undefined;
  if (embed) {
    input.onProgress?.({ type: 'embedding-start', set: 'train', count: trainTexts.length });
    trainVectors = await embed(trainTexts);
    input.onProgress?.({ type: 'embedding-end', set: 'train' });
    const embeddingDedup = dedupByCosine(trainVectors, options.dedupThreshold, candidates);
    note(embeddingDedup.removed, 'duplicate', 'embedding');
    candidates = embeddingDedup.kept;
  }

  if (testTexts.length > 0) {
    if (useNgram) {
      const ngramContamination = contaminationByNgram(trainTexts, testTexts, options.ngram, candidates);
      note(ngramContamination, 'contamination', 'ngram');
      const dropped = new Set(ngramContamination.map((m) => m.index));
      candidates = candidates.filter((i) => !dropped.has(i));
    }
    if (embed && trainVectors) {
      input.onProgress?.({ type: 'embedding-start', set: 'test', count: testTexts.length });
      const testVectors = await embed(testTexts);
      input.onProgress?.({ type: 'embedding-end', set: 'test' });
      const embeddingContamination = contaminationByCosine(
        trainVectors,
        testVectors,
        options.contaminationThreshold,
        candidates,
      );
      note(embeddingContamination, 'contamination', 'embedding');
      const droppedByEmbedding = new Set(embeddingContamination.map((m) => m.index));
      candidates = candidates.filter((i) => !droppedByEmbedding.has(i));
    }
  }
  return {
    specificationVersion: 'v1',
    options,
    methods,
    trainCount: trainTexts.length,
    testCount: testTexts.length,
    kept: [...candidates].sort((a, b) => a - b),
    removed: removed.sort((a, b) => a.index - b.index),
  };
}
