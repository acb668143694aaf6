// --model PATH: a local model run by @meld/runtime (stories260K, whose context is 512 tokens, so the
// incremental prompts are swapped for short ones through --prompts; the annotator stays remote).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { startBookModelServer } from './__fixtures__/book-model-server';
import { writeTinyModelInputs } from './__fixtures__/tiny-model-inputs';
import { main } from './cli';
import type { ScoreReport } from './score-report';

const directory = mkdtempSync(join(tmpdir(), 'meld-local-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describeWithShared('meld-summarize with a local model', ['models/stories260K/stories260K.bin'], () => {
  it('summarises with stories260K through @meld/runtime, counting tokens with its tokenizer, and resumes from the cache', async () => {
    const { prompts, book } = writeTinyModelInputs(directory);
    const server = await startBookModelServer();
    const out = join(directory, 'out');
    const argv = [
      book,
      '--workflow',
      'inc',
      '--chunk-size',
      '32',
      '--max-summary',
      '64',
      '--tokenizer',
      'model',
    ];
    argv.push('--prompts', prompts, '--model', sharedFile('models/stories260K/stories260K.bin'));
    argv.push(
      '--annotator-base-url',
      server.baseURL,
      '--annotator-model',
      'annotator',
      '--out',
      out,
      '--quiet',
    );
    const sink = { write: () => true };
    try {
      expect(await main(argv, { stdout: sink, stderr: sink })).toBe(0);
      const report = JSON.parse(readFileSync(join(out, 'score.json'), 'utf8')) as ScoreReport;
      expect(report.models.summarizer).toBe('local:stories260K.bin');
      expect(report.tokenizer).toBe('local:stories260K.bin tokenizer');
      expect(report.chunks).toBeGreaterThan(1);
      const local = report.usage.models.find((model) => model.modelId === 'local:stories260K.bin');
      expect(local?.calls).toBeGreaterThanOrEqual(report.chunks);
      expect(local?.promptTokens).toBeGreaterThan(0);
      expect(readFileSync(join(out, 'summary.md'), 'utf8').startsWith('# story\n\n')).toBe(true);

      const firstSummary = readFileSync(join(out, 'summary.md'), 'utf8');
      expect(await main(argv, { stdout: sink, stderr: sink })).toBe(0);
      const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
        calls: number;
        cacheHits: number;
      };
      expect(run.calls).toBe(0);
      expect(run.cacheHits).toBe(report.usage.calls);
      expect(readFileSync(join(out, 'summary.md'), 'utf8')).toBe(firstSummary);
    } finally {
      await server.close();
    }
  });
});
