// Per-request KV-cache policies (meld.kv_cache) with the real model: every policy of @meld/kv-cache is
// selectable, a 35% budget holds fewer bytes than the full cache, and bad choices are 400s naming the field.
import { describeWithShared } from '@meld/test-utils';
import type OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StartedServer } from './start';
import { openaiClient, postJson, STORIES_FILES, startTestServer } from './test-helpers';

interface MeldUsage {
  kv_cache_peak_bytes: number;
  kv_cache_policy: string;
}

// stories260K: 5 layers, 4 KV heads, head size 8. A full cache holds per token and (layer, KV head)
// one f32 key and value (8 floats each) and one int32 position.
const FULL_BYTES_PER_TOKEN = 5 * 4 * (2 * 8 * 4 + 4);

describeWithShared('meld.kv_cache per request', STORIES_FILES, () => {
  let server: StartedServer;
  let client: OpenAI;
  const prompt = 'Once upon a time';
  const maxTokens = 200;

  beforeAll(async () => {
    server = await startTestServer();
    client = openaiClient(server);
  });
  afterAll(async () => {
    await server.close();
  });

  async function complete(meld?: Record<string, unknown>) {
    const params: OpenAI.CompletionCreateParamsNonStreaming & { meld?: Record<string, unknown> } = {
      model: 'stories260K',
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      ...(meld ? { meld } : {}),
    };
    const completion = await client.completions.create(params);
    const usage = completion.usage as OpenAI.CompletionUsage & { meld: MeldUsage };
    return { text: completion.choices[0]!.text, usage };
  }

  it('the full cache reports exactly the bytes of every token it ran', async () => {
    const { usage } = await complete();
    expect(usage.meld.kv_cache_policy).toBe('full');
    // The last sampled token is never run through the model, so it has no K/V.
    const tokensRun = usage.prompt_tokens + usage.completion_tokens - 1;
    expect(usage.meld.kv_cache_peak_bytes).toBe(tokensRun * FULL_BYTES_PER_TOKEN);
  });

  const policies = ['streaming_llm', 'h2o', 'tova', 'snapkv', 'cam', 'kvmerger', 'merge_on_evict'];
  it.each(policies)(
    '%s with a 35 percent budget holds fewer KV bytes than the full cache',
    async (policy) => {
      const full = await complete();
      const compressed = await complete({ kv_cache: { policy, budget: '35%' } });
      expect(compressed.usage.meld.kv_cache_policy).toBe(policy);
      expect(compressed.usage.completion_tokens).toBeGreaterThan(0);
      expect(compressed.text.length).toBeGreaterThan(0);
      expect(compressed.usage.meld.kv_cache_peak_bytes).toBeGreaterThan(0);
      expect(compressed.usage.meld.kv_cache_peak_bytes).toBeLessThan(full.usage.meld.kv_cache_peak_bytes);
    },
  );

  it('the full policy by name equals the default', async () => {
    const byName = await complete({ kv_cache: { policy: 'full' } });
    const byDefault = await complete();
    expect(byName.text).toBe(byDefault.text);
    expect(byName.usage.meld.kv_cache_peak_bytes).toBe(byDefault.usage.meld.kv_cache_peak_bytes);
  });

  it('streaming responses report usage.meld in the usage chunk', async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: prompt }],
        max_tokens: 50,
        stream: true,
        stream_options: { include_usage: true },
        meld: { kv_cache: { policy: 'streaming_llm', budget: 0.35 } },
      }),
    });
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const usageChunk = JSON.parse(events.at(-2)!.slice('data: '.length));
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.meld.kv_cache_policy).toBe('streaming_llm');
    expect(usageChunk.usage.meld.kv_cache_peak_bytes).toBeGreaterThan(0);
  });

  it('invalid choices are 400s naming the field', async () => {
    const body = (meld: unknown) => ({ model: 'stories260K', prompt, max_tokens: 4, meld });
    const cases: Array<[unknown, string, string]> = [
      [{ kv_cache: { policy: 'lru', budget: '35%' } }, 'meld.kv_cache.policy', 'invalid_value'],
      [{ kv_cache: { policy: 'h2o' } }, 'meld.kv_cache.budget', 'invalid_value'],
      [{ kv_cache: { policy: 'h2o', budget: '135%' } }, 'meld.kv_cache.budget', 'invalid_value'],
      [{ kv_cache: { policy: 'h2o', budget: '35%', colour: 1 } }, 'meld.kv_cache', 'invalid_value'],
      [{ long_context: { method: 'rope' } }, 'meld.long_context.method', 'invalid_value'],
      [{ soup: { weights: [0.5, 0.5] } }, 'meld.soup', 'not_implemented'],
    ];
    for (const [meld, param, code] of cases) {
      const response = await postJson(server, '/v1/completions', body(meld));
      expect(response.status, JSON.stringify(meld)).toBe(400);
      const error = (response.json as { error: { param: string; code: string; type: string } }).error;
      expect(error.param, JSON.stringify(meld)).toBe(param);
      expect(error.code, JSON.stringify(meld)).toBe(code);
      expect(error.type).toBe('invalid_request_error');
    }
  });
});
