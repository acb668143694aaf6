import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLlama2c } from '@meld/runtime';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { stories260kFiles } from '../__fixtures__/stories260k';
import { tinyStories, tinystoriesFile } from '../__fixtures__/tinystories';
import type { TrainingRecord } from '../data/records';
import { baseWeightsFromModel } from '../model/from-runtime';
import { trainingTokenizerFromModel } from '../model/tokenizer-from-runtime';
import { FrozenModel } from '../model/train-forward';
import { checkData } from './data-check';
import { localEmbedder } from './embedders';
import { contaminationByNgram, dedupByNgram, ngrams } from './ngram';
import { writeDataCheckReport } from './report';
import { contaminationByCosine, dedupByCosine } from './similarity';

const v = (...x: number[]) => Float32Array.from(x);

describe('cosine checks (Platypus rules)', () => {
  it('dedup keeps an item only when its max cosine to kept items is <= threshold', () => {
    // cos(a, b) = 0.8 > 0.7 → b dropped; cos(a, c) = 0.6 ≤ 0.7 → c kept; d duplicates c exactly.
    const vectors = [v(1, 0), v(0.8, 0.6), v(0.6, 0.8), v(3, 4)];
    const { kept, removed } = dedupByCosine(vectors, 0.7);
    expect(kept).toEqual([0, 2]);
    expect(removed.map((r) => [r.index, r.matchedIndex])).toEqual([
      [1, 0],
      [3, 2],
    ]);
    expect(removed[0].similarity).toBeCloseTo(0.8, 6);
  });

  it("contamination removes each test item's nearest training item when cosine >= threshold", () => {
    const train = [v(1, 0), v(0, 1), v(Math.SQRT1_2, Math.SQRT1_2)];
    const test = [v(0.9, 0.1), v(-1, 0)];
    const removed = contaminationByCosine(train, test, 0.8);
    expect(removed.map((r) => [r.index, r.matchedIndex])).toEqual([[0, 0]]);
  });
});

describe('n-gram checks', () => {
  it('normalises words and builds n-grams', () => {
    expect([...ngrams('The cat, the HAT!', 2)]).toEqual(['the cat', 'cat the', 'the hat']);
    expect([...ngrams('short text', 13)]).toEqual(['short text']);
  });

  it('dedup by shared n-gram share, contamination by any shared n-gram', () => {
    const a = 'one two three four five six seven eight';
    const b = 'one two three four five six seven nine'; // 5 of its 6 trigrams are in a
    const c = 'completely different words in this sentence here now';
    const { kept, removed } = dedupByNgram([a, b, c], 3, 0.7);
    expect(kept).toEqual([0, 2]);
    expect(removed[0]).toMatchObject({ index: 1, matchedIndex: 0 });
    expect(removed[0].similarity).toBeCloseTo(5 / 6, 12);
    const contaminated = contaminationByNgram([a, c], ['xx words in this yy'], 3);
    expect(contaminated).toEqual([{ index: 1, matchedIndex: 0, similarity: 1 / 6, ngram: 'words in this' }]);
  });
});

describeWithShared('data check with a local embedding model', [...stories260kFiles, tinystoriesFile], () => {
  it('removes a paraphrased duplicate and a test-set story, and writes cleaned data and a report', async () => {
    const model = await loadLlama2c(
      sharedFile('models/stories260K/stories260K.bin'),
      sharedFile('models/stories260K/tok512.bin'),
    );
    const embed = localEmbedder(
      new FrozenModel(baseWeightsFromModel(model)),
      trainingTokenizerFromModel(model),
      {
        maxTokens: 128,
      },
    );
    const stories = tinyStories(8);
    const paraphrase = stories[2].replace(/\bshe\b/g, 'he').replace(/\bher\b/g, 'his');
    const trainTexts = [...stories, paraphrase];
    const train: TrainingRecord[] = trainTexts.map((text) => ({ format: 'text', record: { text } }));
    const test: TrainingRecord[] = [{ format: 'text', record: { text: stories[5] } }];
    // Mean-pooled states of a 260K-parameter model are anisotropic (different stories have cosine
    // 0.85-0.9), so Platypus's 0.7/0.8, set for all-MiniLM-L6-v2, are raised for it.
    const report = await checkData({
      train,
      test,
      embed,
      options: { dedupThreshold: 0.98, contaminationThreshold: 0.99 },
    });
    expect(report.removed).toHaveLength(2);
    const byIndex = new Map(report.removed.map((r) => [r.index, r]));
    expect(byIndex.get(8)).toMatchObject({ reason: 'duplicate', matchedIndex: 2 });
    expect(byIndex.get(5)).toMatchObject({ reason: 'contamination', matchedSet: 'test', matchedIndex: 0 });
    expect(report.kept).not.toContain(8);
    expect(report.kept).not.toContain(5);
    expect(report.kept).toContain(0);

    // Embeddings alone find both too: the paraphrase (cosine > 0.98 to its source) and the verbatim
    // test story (cosine 1).
    const byEmbedding = await checkData({
      train,
      test,
      embed,
      options: { methods: ['embedding'], dedupThreshold: 0.98, contaminationThreshold: 0.99 },
    });
    expect(byEmbedding.removed.map((r) => [r.index, r.reason, r.method, r.matchedIndex])).toEqual([
      [5, 'contamination', 'embedding', 0],
      [8, 'duplicate', 'embedding', 2],
    ]);
    expect(byEmbedding.removed[0].similarity).toBeCloseTo(1, 5);

    const outputDir = mkdtempSync(join(tmpdir(), 'meld-data-check-'));
    const lines = trainTexts.map((text) => JSON.stringify({ text }));
    const files = writeDataCheckReport(outputDir, report, lines, {
      train: 'train.jsonl',
      test: 'test.jsonl',
    });
    const cleaned = readFileSync(files.cleaned, 'utf8').trim().split('\n');
    expect(cleaned).toHaveLength(report.kept.length);
    expect(cleaned[0]).toBe(lines[0]);
    expect(readFileSync(files.markdown, 'utf8')).toContain('| contamination |');
    expect(JSON.parse(readFileSync(files.json, 'utf8')).removed.length).toBe(report.removed.length);
  });
});
