import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FixtureServer, startOpenAIFixtureServer } from './__fixtures__/openai-server';
import { withCallCache } from './cached-model';
import { CallCache, cacheKey } from './call-cache';
import { createOpenAICompatible } from './openai-compatible';
import { parseModelPrices, UsageLedger } from './usage-ledger';

let server: FixtureServer;
let directory: string;
beforeEach(async () => {
  server = await startOpenAIFixtureServer();
  directory = mkdtempSync(join(tmpdir(), 'meld-llm-cache-'));
});
afterEach(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

async function run(cachePath: string, prompts: string[], ledger = new UsageLedger()) {
  const cache = CallCache.open(cachePath);
  try {
    const model = withCallCache(createOpenAICompatible({ baseURL: server.baseURL }).chat('tiny'), cache, {
      ledger,
    });
    const texts = [];
    for (const prompt of prompts) texts.push((await model.doGenerate({ prompt }, { temperature: 0.5 })).text);
    return { texts, ledger };
  } finally {
    cache.close();
  }
}

describe('persistent call cache', () => {
  it('a second run over the same SQLite file makes no HTTP call', async () => {
    const path = join(directory, 'calls.sqlite');
    const prompts = ['a', 'b', 'c'];
    const first = await run(path, prompts);
    expect(server.requests).toHaveLength(3);
    const second = await run(path, prompts);
    expect(server.requests).toHaveLength(3);
    expect(second.texts).toEqual(first.texts);
    expect(second.ledger.summary().cacheHits).toBe(3);
    expect(second.ledger.summary().calls).toBe(0);
  });

  it('a run resumed after a crash repeats only the calls it had not finished', async () => {
    const path = join(directory, 'calls.sqlite');
    await run(path, ['a', 'b']);
    expect(server.requests).toHaveLength(2);
    const resumed = await run(path, ['a', 'b', 'c', 'd']);
    expect(
      server.requests.map((request) => (request.body.messages as Array<{ content: string }>)[0].content),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(resumed.ledger.summary()).toMatchObject({ calls: 2, cacheHits: 2 });
  });

  it('keys by model, input and every parameter (cacheKey included), not by the signal', () => {
    const base = { modelId: 'm', input: { prompt: 'p' }, parameters: { temperature: 0.5 } };
    const key = cacheKey(base);
    expect(
      cacheKey({ ...base, parameters: { temperature: 0.5, signal: new AbortController().signal } }),
    ).toBe(key);
    expect(cacheKey({ ...base, modelId: 'n' })).not.toBe(key);
    expect(cacheKey({ ...base, input: { prompt: 'q' } })).not.toBe(key);
    expect(cacheKey({ ...base, input: { messages: [{ role: 'user', content: 'p' }] } })).not.toBe(key);
    expect(cacheKey({ ...base, parameters: { temperature: 1 } })).not.toBe(key);
    expect(cacheKey({ ...base, parameters: { temperature: 0.5, cacheKey: 'retry-1' } })).not.toBe(key);
  });

  it('caches streamed calls and replays them as a stream', async () => {
    const cache = CallCache.open(join(directory, 'stream.sqlite'));
    const model = withCallCache(createOpenAICompatible({ baseURL: server.baseURL }).chat('tiny'), cache);
    const collect = async () => {
      let text = '';
      for await (const part of model.doStream({ prompt: 'flow' }))
        if (part.type === 'text-delta') text += part.text;
      return text;
    };
    expect(await collect()).toBe('You said: flow. Noted.');
    expect(await collect()).toBe('You said: flow. Noted.');
    expect(server.requests).toHaveLength(1);
    expect(cache.size).toBe(1);
    cache.close();
  });
});

describe('usage ledger', () => {
  it('counts tokens and prices the run per model', async () => {
    const path = join(directory, 'calls.sqlite');
    await run(path, ['one two']);
    const { ledger } = await run(path, ['one two', 'three four five']);
    const prices = parseModelPrices({ tiny: { inputPerMillion: 10, outputPerMillion: 30 } });
    const summary = ledger.summary(prices);
    // fixture usage: prompt tokens = words of the prompt, completion tokens = words of the reply
    expect(summary).toMatchObject({ calls: 1, cacheHits: 1, promptTokens: 3, completionTokens: 6 });
    expect(summary.cost).toBeCloseTo((3 * 10 + 6 * 30) / 1e6, 12);
    expect(summary.costIncludingCache).toBeCloseTo((3 * 10 + 6 * 30 + 2 * 10 + 5 * 30) / 1e6, 12);
    expect(() => parseModelPrices({ tiny: { inputPerMillion: -1 } })).toThrow(/prices\.tiny/);
  });
});
