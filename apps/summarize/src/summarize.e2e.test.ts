// End to end: meld-summarize over a real loopback HTTP server, on a real Gutenberg book.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BookModelServer, startBookModelServer } from './__fixtures__/book-model-server';
import { main } from './cli';
import type { ScoreReport } from './score-report';

function capture() {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    },
    output: () => ({ stdout, stderr }),
  };
}

let server: BookModelServer;
let directory: string;
beforeAll(async () => {
  server = await startBookModelServer();
  directory = mkdtempSync(join(tmpdir(), 'meld-summarize-'));
});
afterAll(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

describeWithShared('meld-summarize end to end', ['data/books/pg1342.txt'], () => {
  for (const workflow of ['hier', 'inc'] as const) {
    it(`${workflow}: summarises, annotates, scores and writes every output`, async () => {
      const out = join(directory, workflow);
      const prices = join(directory, 'prices.yml');
      writeFileSync(prices, 'model-a:\n  inputPerMillion: 1\n  outputPerMillion: 2\n');
      const { io, output } = capture();
      const answeredBefore = server.answered.length;
      const code = await main(
        [
          sharedFile('data/books/pg1342.txt'),
          '--workflow',
          workflow,
          '--chunk-size',
          '4096',
          '--base-url',
          server.baseURL,
          '--model',
          'model-a',
          '--prices',
          prices,
          '--out',
          out,
        ],
        io,
      );
      expect(code, output().stderr).toBe(0);
      expect(output().stderr).not.toMatch(/^(meld-summarize|warning):/m);
      const report = JSON.parse(readFileSync(join(out, 'score.json'), 'utf8')) as ScoreReport;
      const summary = readFileSync(join(out, 'summary.md'), 'utf8');
      expect(summary.startsWith('# Pride and Prejudice\n\n')).toBe(true);
      expect(summary).not.toMatch(/Project Gutenberg/i);
      expect(report.chunks).toBeGreaterThan(20);
      expect(report.sentences).toBeGreaterThan(3);
      expect(report.confusing).toBeGreaterThan(0);
      expect(report.booookscore).toBeCloseTo((1 - report.confusing / report.sentences) * 100, 10);
      // every call counted: the fixture's usage is words in / words out
      expect(report.usage.calls).toBe(server.answered.length - answeredBefore);
      expect(report.usage.cost).toBeCloseTo(
        (report.usage.promptTokens * 1 + report.usage.completionTokens * 2) / 1e6,
        12,
      );
      // the score subcommand recomputes the same score from the written files, without a model
      const rescore = capture();
      await main(
        [
          'score',
          '--summaries',
          join(out, 'summaries.json'),
          '--annotations',
          join(out, 'annotations.json'),
          '--json',
        ],
        rescore.io,
      );
      const recomputed = JSON.parse(rescore.output().stdout) as {
        books: Record<string, number>;
        mean: number;
      };
      expect(recomputed.mean).toBeCloseTo(report.booookscore, 10);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html.match(/<mark class="confusing"/g)?.length).toBe(report.confusing);
      expect(html).toContain(report.booookscore.toFixed(1));
      if (workflow === 'inc') expect(output().stderr).toMatch(/compressing the summary/);
    });
  }

  it('batched (v2) annotation reuses the hierarchical run through --cache: only the annotation calls are new', async () => {
    const hier = join(directory, 'hier');
    const out = join(directory, 'batched');
    const { io, output } = capture();
    const argv = [sharedFile('data/books/pg1342.txt'), '--workflow', 'hier', '--chunk-size', '4096'];
    argv.push('--base-url', server.baseURL, '--model', 'model-a', '--annotator-mode', 'batched');
    argv.push('--cache', join(hier, 'calls.sqlite'), '--out', out);
    expect(await main(argv, io), output().stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'score.json'), 'utf8')) as ScoreReport;
    const hierReport = JSON.parse(readFileSync(join(hier, 'score.json'), 'utf8')) as ScoreReport;
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toBe(
      readFileSync(join(hier, 'summary.md'), 'utf8'),
    );
    // the fixture judges each sentence alike in both modes, so the annotations agree
    expect(readFileSync(join(out, 'annotations.json'), 'utf8')).toBe(
      readFileSync(join(hier, 'annotations.json'), 'utf8'),
    );
    expect(report.booookscore).toBe(hierReport.booookscore);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
      calls: number;
      cacheHits: number;
    };
    expect(run.calls).toBe(Math.ceil(report.sentences / 10));
    expect(run.cacheHits).toBe(hierReport.usage.calls - hierReport.sentences);
  });
});
