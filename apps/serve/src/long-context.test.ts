// meld.long_context (HOMER via @meld/context-merge) with the real model: inputs several times longer
// than stories260K's 512-token context are read, and an input that fits one chunk gives exactly the
// plain greedy completion (no merging happens, so the cache equals a plain prefill).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrateHomer, saveHomerCalibration } from '@meld/context-merge';
import { loadModel } from '@meld/runtime';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseServeConfig } from './config';
import type { LongContextStats } from './engine';
import { type StartedServer, startServer } from './start';
import { openaiClient, postJson, STORIES_FILES, startTestServer } from './test-helpers';

type MeldUsage = OpenAI.CompletionUsage & {
  meld: { kv_cache_peak_bytes: number; kv_cache_policy: string; long_context?: LongContextStats[] };
};

describeWithShared(
  'meld.long_context (HOMER)',
  [...STORIES_FILES, 'data/tinystories/tinystories_val.txt'],
  () => {
    let server: StartedServer;
    let client: OpenAI;
    let longText: string;

    beforeAll(async () => {
      server = await startTestServer({ limits: { max_long_context_tokens: 5000 } });
      client = openaiClient(server);
      longText = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8').slice(0, 6000);
    });
    afterAll(async () => {
      await server.close();
    });

    async function complete(prompt: string, meld?: Record<string, unknown>, maxTokens = 30) {
      const params: OpenAI.CompletionCreateParamsNonStreaming & { meld?: Record<string, unknown> } = {
        model: 'stories260K',
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        ...(meld ? { meld } : {}),
      };
      const completion = await client.completions.create(params);
      return { text: completion.choices[0]!.text, usage: completion.usage as MeldUsage };
    }

    it('an input that fits one chunk gives the plain greedy completion', async () => {
      const prompt = 'Lily and Ben went to the zoo. They saw a lion.';
      const homer = await complete(prompt, { long_context: { method: 'homer' } });
      const plain = await complete(prompt);
      expect(homer.text).toBe(plain.text);
      expect(homer.usage.meld.long_context?.[0]).toMatchObject({ method: 'homer', kept_tokens: 19 });
    });

    it('reads an input several times the context; a plain request cannot', async () => {
      const tokens = (await postJson(server, '/tokenize', { model: 'stories260K', prompt: longText }))
        .json as {
        count: number;
      };
      expect(tokens.count).toBeGreaterThan(4 * 512);
      const plain = await postJson(server, '/v1/completions', { model: 'stories260K', prompt: longText });
      expect(plain.status).toBe(400);
      expect(plain.json).toMatchObject({ error: { code: 'context_length_exceeded' } });

      const homer = await complete(longText, { long_context: { method: 'homer' } }, 40);
      expect(homer.usage.completion_tokens).toBe(40);
      expect(homer.text.trim().length).toBeGreaterThan(0);
      const stats = homer.usage.meld.long_context![0]!;
      expect(stats.input_tokens).toBeGreaterThan(4 * 512);
      expect(homer.usage.prompt_tokens).toBe(stats.input_tokens);
      expect(stats.kept_tokens).toBeLessThanOrEqual(256);
      expect(stats.prefill_peak_bytes).toBeGreaterThan(0);
      expect(homer.usage.meld.kv_cache_peak_bytes).toBeGreaterThan(0);
    });

    it('streams, and continues in a requested KV policy', async () => {
      const params: OpenAI.CompletionCreateParamsStreaming & { meld: Record<string, unknown> } = {
        model: 'stories260K',
        prompt: longText,
        max_tokens: 20,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
        meld: {
          long_context: { method: 'homer', prefix: 'A story.' },
          kv_cache: { policy: 'h2o', budget: '50%' },
        },
      };
      let text = '';
      let usage: MeldUsage | undefined;
      for await (const chunk of await client.completions.create(params)) {
        text += chunk.choices[0]?.text ?? '';
        if (chunk.usage) usage = chunk.usage as MeldUsage;
      }
      expect(text.length).toBeGreaterThan(0);
      expect(usage?.meld.kv_cache_policy).toBe('h2o');
      expect(usage?.meld.long_context?.[0]?.kept_tokens).toBeLessThanOrEqual(256);
    });

    it('uses a configured HOMER calibration file', async () => {
      const model = await loadModel(sharedFile('models/stories260K/stories260K.bin'));
      const calibration = calibrateHomer(model, longText, { maxWindows: 4 });
      const file = join(mkdtempSync(join(tmpdir(), 'meld-serve-homer-')), 'calibration.json');
      saveHomerCalibration(file, calibration);
      const calibrated = await startServer(
        parseServeConfig({
          host: '127.0.0.1',
          port: 0,
          models: [
            {
              name: 'stories260K',
              source: sharedFile('models/stories260K/stories260K.bin'),
              homer_calibration: file,
            },
          ],
        }),
      );
      try {
        const response = await postJson(calibrated, '/v1/completions', {
          model: 'stories260K',
          prompt: longText,
          max_tokens: 10,
          temperature: 0,
          meld: { long_context: { method: 'homer' } },
        });
        expect(response.status).toBe(200);
        const usage = (response.json as { usage: MeldUsage }).usage;
        expect(usage.meld.long_context?.[0]?.warnings).toEqual([]);
        expect(usage.meld.long_context?.[0]?.kept_tokens).toBeLessThanOrEqual(256);
      } finally {
        await calibrated.close();
      }
      // Without one, the response says so.
      const uncalibrated = await complete(longText, { long_context: { method: 'homer' } }, 10);
      expect(uncalibrated.usage.meld.long_context?.[0]?.warnings[0]).toMatch(/no calibration/);
    });

    it('invalid long-context requests are 400s naming the field', async () => {
      const cases: Array<[string, Record<string, unknown>, string, string]> = [
        ['/v1/completions', { prompt: [1, 2, 3], max_tokens: 4 }, 'prompt', 'invalid_request_error'],
        ['/v1/completions', { prompt: longText, max_tokens: 300 }, 'max_tokens', 'invalid_request_error'],
        ['/v1/completions', { prompt: 'no sentence end', max_tokens: 4 }, 'prompt', 'invalid_request_error'],
        ['/v1/completions', { prompt: longText.repeat(2), max_tokens: 4 }, 'prompt', 'invalid_request_error'],
        [
          '/v1/chat/completions',
          { messages: [{ role: 'user', content: longText }] },
          'meld.long_context',
          'invalid_request_error',
        ],
      ];
      for (const [path, body, param, type] of cases) {
        const response = await postJson(server, path, {
          model: 'stories260K',
          ...body,
          meld: { long_context: { method: 'homer' } },
        });
        expect(response.status, `${path} ${param}`).toBe(400);
        expect(response.json, `${path} ${param}`).toMatchObject({ error: { param, type } });
      }
    });
  },
);
