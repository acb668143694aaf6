import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { runMeld } from './run-meld-for-tests';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

describeWithShared('meld data check', files, () => {
  const folder = mkdtempSync(join(tmpdir(), 'meld-cli-data-check-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const stories = readFileSync(sharedFile(files[2]), 'utf8')
    .split(/\n\n(?=Once upon a time)/)
    .slice(1, 7)
    .map((s) => s.trim());
  const train = join(folder, 'train.jsonl');
  const test = join(folder, 'test.jsonl');
  const trainLines = [...stories, stories[1]].map((s) => JSON.stringify({ instruction: s, output: 'ok' }));
  writeFileSync(train, `${trainLines.join('\n')}\n`);
  writeFileSync(test, `${JSON.stringify({ instruction: stories[3], output: 'x' })}\n`);

  it('removes the repeated record and the test record by n-grams and writes the cleaned file', async () => {
    const out = join(folder, 'ngram');
    const result = await runMeld(['data', 'check', '--train', train, '--test', test, '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/kept 5\nduplicates 1\ncontaminated 1\n/);
    const cleaned = readFileSync(join(out, 'cleaned.jsonl'), 'utf8').trim().split('\n');
    expect(cleaned).toEqual([0, 1, 2, 4, 5].map((i) => trainLines[i]));
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| 7 \| duplicate \| ngram \| 1\.000 \| train #2 \|/);
    expect(report).toMatch(/\| 4 \| contamination \| ngram \|/);
  });

  it('adds embedding checks with a local model', async () => {
    const out = join(folder, 'embedding');
    const result = await runMeld([
      'data',
      'check',
      '--train',
      train,
      '--test',
      test,
      '--out',
      out,
      '--embed',
      `local:${sharedFile(files[0])}`,
      '--dedup',
      '0.99',
      '--contamination',
      '0.99',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/embedding 7 train records/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.methods).toEqual(['ngram', 'embedding']);
    expect(report.kept).toEqual([0, 1, 2, 4, 5]);
  });

  it('requires --embed-model with --embed-base-url', async () => {
    const result = await runMeld([
      'data',
      'check',
      '--train',
      train,
      '--out',
      folder,
      '--embed-base-url',
      'http://127.0.0.1:9/v1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/embed-model/);
  });
});
