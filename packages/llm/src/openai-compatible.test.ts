import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FixtureServer, startOpenAIFixtureServer } from './__fixtures__/openai-server';
import { APICallError, LLMError, LLMValidationError } from './errors';
import { generateText } from './generate-text';
import { createOpenAICompatible } from './openai-compatible';
import type { RetryEvent } from './retry';

let server: FixtureServer;
beforeEach(async () => {
  server = await startOpenAIFixtureServer();
});
afterEach(async () => {
  await server.close();
});

const fast = { initialRetryDelayMs: 5, maxRetryDelayMs: 50 };

describe('OpenAI-compatible client over a real HTTP server', () => {
  it('sends a chat request in the wire format and reads text and usage', async () => {
    const provider = createOpenAICompatible({
      baseURL: server.baseURL,
      apiKey: 'sk-test',
      providerName: 'fixture',
    });
    const model = provider.chat('tiny');
    expect(model.modelId).toBe('fixture:tiny');
    const result = await generateText(model, {
      prompt: 'hello there',
      maxTokens: 50,
      temperature: 0.5,
      stop: ['\n\n'],
    });
    expect(result.text).toBe('You said: hello there. Noted.');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toEqual({ promptTokens: 2, completionTokens: 5 });
    const [request] = server.requests;
    expect(request.path).toBe('/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.body).toEqual({
      model: 'tiny',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 50,
      temperature: 0.5,
      stop: ['\n\n'],
    });
  });

  it('reads the key from the environment variable it is told', async () => {
    process.env.MELD_TEST_KEY = 'sk-from-env';
    try {
      const provider = createOpenAICompatible({
        baseURL: server.baseURL,
        apiKeyEnvironmentVariable: 'MELD_TEST_KEY',
      });
      await provider.chat('tiny').doGenerate({ prompt: 'x' });
      expect(server.requests[0].headers.authorization).toBe('Bearer sk-from-env');
    } finally {
      delete process.env.MELD_TEST_KEY;
    }
  });

  it('uses /completions for completion models and reports a length stop', async () => {
    const model = createOpenAICompatible({ baseURL: server.baseURL }).completion('tiny');
    const result = await model.doGenerate({ prompt: 'one two three' }, { maxTokens: 3 });
    expect(server.requests[0].path).toBe('/completions');
    expect(server.requests[0].body.prompt).toBe('one two three');
    expect(result.text).toBe('You said: one');
    expect(result.finishReason).toBe('length');
  });

  it('streams chat and completion deltas over SSE, ending with the usage', async () => {
    const provider = createOpenAICompatible({ baseURL: server.baseURL });
    for (const model of [provider.chat('tiny'), provider.completion('tiny')]) {
      const parts = [];
      for await (const part of model.doStream({ messages: [{ role: 'user', content: 'stream me' }] }))
        parts.push(part);
      const deltas = parts.filter((part) => part.type === 'text-delta');
      expect(deltas.length).toBeGreaterThan(2);
      expect(deltas.map((part) => part.text).join('')).toBe('You said: stream me. Noted.');
      expect(parts.at(-1)).toEqual({
        type: 'finish',
        finishReason: 'stop',
        usage: { promptTokens: 2, completionTokens: 5 },
      });
    }
    expect(server.requests.every((request) => request.body.stream === true)).toBe(true);
  });

  it('retries 429 and 500 with backoff, honouring Retry-After, then succeeds', async () => {
    server.failures.push({ status: 429, retryAfterSeconds: 0.05 }, { status: 500 });
    const events: RetryEvent[] = [];
    const model = createOpenAICompatible({
      baseURL: server.baseURL,
      ...fast,
      onRetry: (event) => events.push(event),
    }).chat('tiny');
    const started = Date.now();
    const result = await model.doGenerate({ prompt: 'persist' });
    expect(result.text).toBe('You said: persist. Noted.');
    expect(server.requests).toHaveLength(3);
    expect(events.map((event) => event.error.status)).toEqual([429, 500]);
    expect(events[0].delayMs).toBeGreaterThanOrEqual(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it('retries a stream that fails before its first event', async () => {
    server.failures.push({ status: 503 });
    const model = createOpenAICompatible({ baseURL: server.baseURL, ...fast }).chat('tiny');
    let text = '';
    for await (const part of model.doStream({ prompt: 'again' }))
      if (part.type === 'text-delta') text += part.text;
    expect(text).toBe('You said: again. Noted.');
    expect(server.requests).toHaveLength(2);
  });

  it('does not retry a 400 and gives up after maxRetries on 5xx', async () => {
    server.failures.push({ status: 400 });
    const model = createOpenAICompatible({ baseURL: server.baseURL, ...fast, maxRetries: 2 }).chat('tiny');
    const badRequest = await model.doGenerate({ prompt: 'x' }).catch((error: unknown) => error);
    expect(badRequest).toBeInstanceOf(APICallError);
    expect((badRequest as APICallError).status).toBe(400);
    expect(LLMError.isInstance(badRequest)).toBe(true);
    expect(server.requests).toHaveLength(1);

    server.failures.push({ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 });
    const exhausted = await model.doGenerate({ prompt: 'y' }).catch((error: unknown) => error);
    expect((exhausted as APICallError).status).toBe(502);
    expect(server.requests).toHaveLength(1 + 3);
  });

  it('times out a slow request and retries it', async () => {
    server.delayMs = 300;
    const model = createOpenAICompatible({
      baseURL: server.baseURL,
      ...fast,
      timeoutMs: 60,
      maxRetries: 1,
    }).chat('tiny');
    const error = await model.doGenerate({ prompt: 'slow' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APICallError);
    expect((error as APICallError).message).toMatch(/timed out after 60 ms/);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.requests).toHaveLength(2);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    server.delayMs = 40;
    const provider = createOpenAICompatible({ baseURL: server.baseURL, concurrency: 2 });
    const model = provider.chat('tiny');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) => model.doGenerate({ prompt: `n${index}` })),
    );
    expect(results.map((result) => result.text)).toEqual(
      Array.from({ length: 6 }, (_, index) => `You said: n${index}. Noted.`),
    );
    expect(server.maxInFlight).toBe(2);
  });

  it('embeds texts through /embeddings', async () => {
    const model = createOpenAICompatible({ baseURL: server.baseURL }).chat('embedder');
    const vectors = await model.embed?.(['a b', 'cde']);
    expect(vectors?.map((vector) => [...vector])).toEqual([
      [3, 2, 1],
      [3, 1, 1],
    ]);
  });

  it('rejects invalid options naming the field', () => {
    expect(() => createOpenAICompatible({ baseURL: 'not a url' })).toThrow(LLMValidationError);
    expect(() => createOpenAICompatible({ baseURL: server.baseURL, concurrency: 0 })).toThrow(
      /options\.concurrency/,
    );
  });
});
