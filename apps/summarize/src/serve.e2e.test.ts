// End to end over apps/serve: meld-summarize's HTTP client talks to our own OpenAI-compatible server on
// a loopback port, backed by @meld/runtime running stories260K. stories260K's 512-token context only
// fits short prompts, so the incremental prompts come from --prompts; the (long) annotation prompt goes
// to the deterministic loopback annotator.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenAICompatible, type StreamPart } from '@meld/llm';
import { parseServeConfig, startServer } from '@meld/serve';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { startBookModelServer } from './__fixtures__/book-model-server';
import { writeTinyModelInputs } from './__fixtures__/tiny-model-inputs';
import { main } from './cli';
import type { ScoreReport } from './score-report';

const directory = mkdtempSync(join(tmpdir(), 'meld-serve-e2e-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describeWithShared(
  'meld-summarize over apps/serve',
  ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'],
  () => {
    it('summarises through /v1/chat/completions of meld-serve running stories260K', async () => {
      const { prompts, book } = writeTinyModelInputs(directory);
      const serve = await startServer(
        parseServeConfig({
          port: 0,
          models: [
            {
              name: 'stories260K',
              source: sharedFile('models/stories260K/stories260K.bin'),
              tokenizer: sharedFile('models/stories260K/tok512.bin'),
            },
          ],
        }),
      );
      const annotator = await startBookModelServer();
      const out = join(directory, 'out');
      const argv = [
        book,
        '--workflow',
        'inc',
        '--chunk-size',
        '24',
        '--max-summary',
        '64',
        '--prompts',
        prompts,
      ];
      argv.push('--base-url', `${serve.url}/v1`, '--model', 'stories260K');
      argv.push(
        '--annotator-base-url',
        annotator.baseURL,
        '--annotator-model',
        'annotator',
        '--out',
        out,
        '--quiet',
      );
      let stderr = '';
      const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) } };
      try {
        // the same client streams from meld-serve: SSE deltas, then the usage
        const client = createOpenAICompatible({ baseURL: `${serve.url}/v1` }).chat('stories260K');
        let streamed = '';
        let finish: StreamPart | undefined;
        for await (const part of client.doStream(
          { prompt: 'Once upon a time' },
          { maxTokens: 16, temperature: 0 },
        )) {
          if (part.type === 'text-delta') streamed += part.text;
          else finish = part;
        }
        const generated = await client.doGenerate(
          { prompt: 'Once upon a time' },
          { maxTokens: 16, temperature: 0 },
        );
        expect(streamed.length).toBeGreaterThan(0);
        expect(streamed).toBe(generated.text);
        expect(finish).toMatchObject({ type: 'finish', usage: generated.usage });
        expect(generated.usage.completionTokens).toBeGreaterThan(0);

        expect(await main(argv, io), stderr).toBe(0);
      } finally {
        await annotator.close();
        await serve.close();
      }
      const report = JSON.parse(readFileSync(join(out, 'score.json'), 'utf8')) as ScoreReport;
      expect(report.models.summarizer).toBe('openai-compatible:stories260K');
      const served = report.usage.models.find((model) => model.modelId === 'openai-compatible:stories260K');
      expect(served?.calls).toBeGreaterThanOrEqual(report.chunks);
      // usage comes from meld-serve's responses: counted with stories260K's own tokenizer
      expect(served?.promptTokens).toBeGreaterThan(0);
      expect(served?.completionTokens).toBeGreaterThan(0);
      // stories260K samples at temperature 0.5, so only the shape of its output is checked
      expect(readFileSync(join(out, 'summary.md'), 'utf8').startsWith('# story\n\n')).toBe(true);
    });
  },
);
