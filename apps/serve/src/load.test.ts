// Behaviour under load and at the edges, with the real model: interleaved decoding, the bounded
// queue (429 + Retry-After), client disconnects, graceful shutdown, limits, API keys, metrics.
import { describeWithShared } from '@meld/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StartedServer } from './start';
import { openaiClient, postJson, STORIES_FILES, startTestServer } from './test-helpers';

async function metric(server: StartedServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeWithShared('meld-serve under load', STORIES_FILES, () => {
  describe('scheduler', () => {
    let server: StartedServer;
    let client: OpenAI;
    beforeAll(async () => {
      server = await startTestServer({ limits: { max_active_sequences: 4, max_queued_sequences: 4 } });
      client = openaiClient(server);
    });
    afterAll(async () => {
      await server.close();
    });

    it('decodes concurrent requests interleaved, each as if alone', async () => {
      const arrivals: string[] = [];
      const run = async (name: string, prompt: string) => {
        const stream = await client.completions.create({
          model: 'stories260K',
          prompt,
          max_tokens: 120,
          temperature: 0,
          stream: true,
        });
        let text = '';
        for await (const chunk of stream) {
          if (chunk.choices[0]?.text) arrivals.push(name);
          text += chunk.choices[0]?.text ?? '';
        }
        return text;
      };
      const [a, b] = await Promise.all([
        run('a', 'Once upon a time'),
        run('b', 'Lily and Ben went to the zoo'),
      ]);
      // Interleaved: each stream got text while the other was still running.
      expect(arrivals.indexOf('b')).toBeLessThan(arrivals.lastIndexOf('a'));
      expect(arrivals.indexOf('a')).toBeLessThan(arrivals.lastIndexOf('b'));
      // Each sequence has its own KV cache: the text equals the one decoded alone.
      const alone = await client.completions.create({
        model: 'stories260K',
        prompt: 'Lily and Ben went to the zoo',
        max_tokens: 120,
        temperature: 0,
      });
      expect(b).toBe(alone.choices[0]!.text);
      expect(a.length).toBeGreaterThan(0);
    });

    it('a client disconnect cancels its generation', async () => {
      const before = await metric(server, 'meld_completion_tokens_total');
      const controller = new AbortController();
      const response = await fetch(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'stories260K',
          prompt: 'Once',
          max_tokens: 500,
          temperature: 0,
          stream: true,
        }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      // While it runs, its cache shows in the gauges.
      expect(await metric(server, 'meld_active_sequences')).toBe(1);
      expect(await metric(server, 'meld_kv_cache_bytes')).toBeGreaterThan(0);
      controller.abort();
      await waitFor(async () => (await metric(server, 'meld_active_sequences')) === 0);
      const generated = (await metric(server, 'meld_completion_tokens_total')) - before;
      expect(generated).toBeGreaterThan(0);
      expect(generated).toBeLessThan(500);
    });

    it('/health and /metrics', async () => {
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', models: ['stories260K'] });
      const response = await fetch(`${server.url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      for (const name of [
        'meld_requests_total',
        'meld_prompt_tokens_total',
        'meld_completion_tokens_total',
        'meld_tokens_per_second',
        'meld_queue_length',
        'meld_active_sequences',
        'meld_kv_cache_bytes',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(text).toMatch(/meld_requests_total\{route="\/v1\/completions",status="200"\} [1-9]/);
      expect(await metric(server, 'meld_tokens_per_second')).toBeGreaterThan(0);
    });
  });

  it('a full queue answers 429 with Retry-After', async () => {
    const server = await startTestServer({ limits: { max_active_sequences: 1, max_queued_sequences: 1 } });
    try {
      const request = () =>
        postJson(server, '/v1/completions', {
          model: 'stories260K',
          prompt: 'Once',
          max_tokens: 300,
          temperature: 0,
        });
      const responses = await Promise.all([request(), request(), request(), request(), request()]);
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(2);
      const rejected = responses.filter((response) => response.status === 429);
      expect(rejected.length).toBeGreaterThanOrEqual(1);
      expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
      for (const response of rejected) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(response.json).toMatchObject({ error: { type: 'rate_limit_error', code: 'queue_full' } });
      }
      // The openai client surfaces it as RateLimitError.
      const client = openaiClient(server);
      const results = await Promise.allSettled(
        [0, 1, 2].map(() =>
          client.completions.create({ model: 'stories260K', prompt: 'Once', max_tokens: 200 }),
        ),
      );
      const failures = results.filter((result) => result.status === 'rejected');
      expect(failures.length).toBeGreaterThanOrEqual(1);
      expect((failures[0] as PromiseRejectedResult).reason).toBeInstanceOf(OpenAI.RateLimitError);
    } finally {
      await server.close();
    }
  });

  it('graceful shutdown finishes in-flight requests, then refuses connections', async () => {
    const server = await startTestServer();
    const url = server.url;
    const inFlight = postJson(server, '/v1/completions', {
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 300,
      temperature: 0,
    });
    await waitFor(async () => server.server.scheduler.activeCount > 0);
    const closed = server.close();
    const response = await inFlight;
    expect(response.status).toBe(200);
    const body = response.json as {
      choices: Array<{ finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(body.usage.completion_tokens).toBe(300);
    expect(body.choices[0]!.finish_reason).toBe('length');
    await closed;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('API key, body size limit', async () => {
    const server = await startTestServer({ apiKey: 'sekret', limits: { max_body_bytes: 2048 } });
    try {
      const wrong = await openaiClient(server, 'guess')
        .completions.create({ model: 'stories260K', prompt: 'x', max_tokens: 1 })
        .catch((error) => error);
      expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(wrong.code).toBe('invalid_api_key');
      const right = await openaiClient(server, 'sekret').completions.create({
        model: 'stories260K',
        prompt: 'x',
        max_tokens: 1,
      });
      expect(right.choices.length).toBe(1);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
      const big = await postJson(
        server,
        '/v1/completions',
        { model: 'stories260K', prompt: 'x'.repeat(10_000) },
        { authorization: 'Bearer sekret' },
      );
      expect(big.status).toBe(413);
      expect(big.json).toMatchObject({ error: { code: 'request_too_large', type: 'invalid_request_error' } });
    } finally {
      await server.close();
    }
  });
});
