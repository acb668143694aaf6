// The official openai client against the running server with the real stories260K model.
// Greedy text is checked against llama2.c's own output (REFERENCE.md), produced by run.c.
import { loadModel } from '@meld/runtime';
import { allClose, describeWithShared, sharedFile } from '@meld/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StartedServer } from './start';
import { openaiClient, postJson, referenceText, STORIES_FILES, startTestServer } from './test-helpers';

describeWithShared('meld-serve API with the openai client', STORIES_FILES, () => {
  let server: StartedServer;
  let client: OpenAI;
  const zooPrompt = 'Lily and Ben went to the zoo';

  beforeAll(async () => {
    server = await startTestServer();
    client = openaiClient(server);
  });
  afterAll(async () => {
    await server.close();
  });

  it('lists the model', async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['stories260K']);
    const model = await client.models.retrieve('stories260K');
    expect(model.object).toBe('model');
  });

  it('greedy completion equals llama2.c run.c output', async () => {
    const completion = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 60,
      temperature: 0,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.id).toMatch(/^cmpl-/);
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('length');
    expect(referenceText(2).startsWith(zooPrompt + choice.text)).toBe(true);
    expect(choice.text.length).toBeGreaterThan(100);
    expect(completion.usage?.completion_tokens).toBe(60);
    expect(completion.usage?.prompt_tokens).toBe(12); // BOS + 11 tokens, as /tokenize reports below
    expect(completion.usage?.total_tokens).toBe(72);
    const echoed = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 60,
      temperature: 0,
      echo: true,
    });
    expect(echoed.choices[0]!.text).toBe(zooPrompt + choice.text);
  });

  it('streams the same text in OpenAI chunks, then usage, then [DONE]', async () => {
    const stream = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const ids = new Set<string>();
    const finishReasons: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.object).toBe('text_completion');
      expect(chunk.model).toBe('stories260K');
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        text += choice.text;
        finishReasons.push(choice.finish_reason);
      }
    }
    expect(ids.size).toBe(1);
    expect(finishReasons.at(-1)).toBe('length');
    expect(finishReasons.slice(0, -1).every((reason) => reason === null)).toBe(true);
    expect(usage?.completion_tokens).toBe(40);
    const whole = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 40,
      temperature: 0,
    });
    expect(text).toBe(whole.choices[0]!.text);
  });

  it('chat: plain template, non-streaming and streaming agree', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You tell stories.' },
      { role: 'user', content: 'Once upon a time' },
    ];
    const chat = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 30,
      temperature: 0,
    });
    expect(chat.object).toBe('chat.completion');
    expect(chat.id).toMatch(/^chatcmpl-/);
    expect(chat.choices[0]!.message.role).toBe('assistant');
    const content = chat.choices[0]!.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    // The documented fallback template: "system: ...\nuser: ...\nassistant:".
    const templated = await postJson(server, '/tokenize', { model: 'stories260K', messages });
    const plain = await postJson(server, '/tokenize', {
      model: 'stories260K',
      prompt: 'system: You tell stories.\nuser: Once upon a time\nassistant:',
    });
    expect(templated.json).toEqual(plain.json);
    expect(chat.usage?.prompt_tokens).toBe((plain.json as { count: number }).count);

    const stream = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 30,
      temperature: 0,
      stream: true,
    });
    let streamed = '';
    let first = true;
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0]!;
      if (first) expect(choice.delta.role).toBe('assistant');
      first = false;
      streamed += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    expect(streamed).toBe(content);
    expect(finish).toBe('length');
  });

  it('stop strings cut the text and end with finish_reason stop', async () => {
    const completion = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 100,
      temperature: 0,
      stop: ['.', 'zebra'],
    });
    const reference = referenceText(2).slice(zooPrompt.length);
    expect(completion.choices[0]!.text).toBe(reference.slice(0, reference.indexOf('.')));
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    // Streaming holds back text that could still become a stop string.
    const stream = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 100,
      temperature: 0,
      stop: ' box.',
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(reference.slice(0, reference.indexOf(' box.')));
  });

  it('seed makes sampling reproducible; n choices differ', async () => {
    const request = {
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 30,
      temperature: 1,
      top_p: 0.9,
      seed: 1234,
      n: 3,
    };
    const first = await client.completions.create(request);
    const second = await client.completions.create(request);
    expect(first.choices.map((c) => c.text)).toEqual(second.choices.map((c) => c.text));
    expect(first.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(first.choices.map((c) => c.text)).size).toBeGreaterThan(1);
    expect(first.usage?.completion_tokens).toBe(first.choices.length * 30);
    // Streamed, the n choices interleave by index and each ends with its own finish_reason.
    const stream = await client.completions.create({ ...request, stream: true });
    const texts = ['', '', ''];
    const finished: number[] = [];
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.text;
        if (choice.finish_reason) finished.push(choice.index);
      }
    }
    expect(texts).toEqual(first.choices.map((c) => c.text));
    expect(finished.sort()).toEqual([0, 1, 2]);
  });

  it('logprobs agree with a separate full-sequence scoring pass', async () => {
    const completion = await client.completions.create({
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
      logprobs: 3,
    });
    const logprobs = completion.choices[0]!.logprobs!;
    expect(logprobs.tokens!.length).toBe(12);
    expect(logprobs.tokens!.join('')).toBe(completion.choices[0]!.text);
    for (let i = 0; i < 12; i++) {
      const top = logprobs.top_logprobs![i]!;
      const best = Math.max(...Object.values(top));
      // Greedy: the chosen token is the most likely one.
      expect(logprobs.token_logprobs![i]).toBeCloseTo(best, 6);
      expect(Object.values(top).reduce((sum, lp) => sum + Math.exp(lp), 0)).toBeLessThanOrEqual(1 + 1e-9);
    }
    // Independent check: the runtime scores prompt + completion in one batched pass (logLikelihood),
    // a different code path from the server's token-by-token decode.
    const promptTokens = (
      await postJson(server, '/tokenize', { model: 'stories260K', prompt: 'Once upon a time' })
    ).json as { tokens: number[] };
    const withCompletion = (
      await postJson(server, '/tokenize', {
        model: 'stories260K',
        prompt: `Once upon a time${completion.choices[0]!.text}`,
      })
    ).json as { tokens: number[] };
    const model = await loadModel(sharedFile('models/stories260K/stories260K.bin'));
    const scored = model.logLikelihood(withCompletion.tokens, { from: promptTokens.tokens.length });
    expect(scored.count).toBe(12);
    expect(
      allClose(logprobs.token_logprobs!, scored.tokenLogProbs, { rtol: 1e-4, atol: 1e-4 }),
    ).toMatchObject({
      pass: true,
    });
    const chat = await client.chat.completions.create({
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 5,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = chat.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(5);
    expect(content.map((entry) => entry.token).join('')).toBe(chat.choices[0]!.message.content);
    expect(content[0]!.top_logprobs[0]!.logprob).toBeCloseTo(content[0]!.logprob, 6);
  });

  it('embeddings: mean-pooled hidden states, float and base64 agree', async () => {
    const floats = await client.embeddings.create({
      model: 'stories260K',
      input: ['Once upon a time', 'The cat sat'],
      encoding_format: 'float',
    });
    expect(floats.data.length).toBe(2);
    expect(floats.data[0]!.embedding.length).toBe(64); // stories260K hidden size
    expect(floats.data[0]!.embedding).not.toEqual(floats.data[1]!.embedding);
    // The openai client decodes base64 itself (its default encoding).
    const decoded = await client.embeddings.create({ model: 'stories260K', input: 'Once upon a time' });
    expect(decoded.data[0]!.embedding).toEqual(floats.data[0]!.embedding);
    const counts = await Promise.all(
      ['Once upon a time', 'The cat sat'].map(
        async (prompt) =>
          ((await postJson(server, '/tokenize', { model: 'stories260K', prompt })).json as { count: number })
            .count,
      ),
    );
    expect(floats.usage.prompt_tokens).toBe(counts[0]! + counts[1]!);
  });

  it('tokenize / detokenize with the model tokenizer', async () => {
    const tokenized = await postJson(server, '/tokenize', { model: 'stories260K', prompt: zooPrompt });
    const { tokens, count, max_model_len } = tokenized.json as {
      tokens: number[];
      count: number;
      max_model_len: number;
    };
    expect(count).toBe(12);
    expect(tokens.length).toBe(12);
    expect(max_model_len).toBe(512);
    const llamaCpp = await postJson(server, '/tokenize', {
      model: 'stories260K',
      content: zooPrompt,
      add_special_tokens: false,
    });
    expect((llamaCpp.json as { tokens: number[] }).tokens).toEqual(tokens.slice(1));
    const detokenized = await postJson(server, '/detokenize', { model: 'stories260K', tokens });
    expect((detokenized.json as { prompt: string }).prompt).toBe(zooPrompt);
    // Token prompts are accepted by /v1/completions and give the same text as the string prompt.
    const byTokens = await client.completions.create({
      model: 'stories260K',
      prompt: tokens,
      max_tokens: 10,
      temperature: 0,
    });
    const byText = await client.completions.create({
      model: 'stories260K',
      prompt: zooPrompt,
      max_tokens: 10,
      temperature: 0,
    });
    expect(byTokens.choices[0]!.text).toBe(byText.choices[0]!.text);
  });

  it('errors come back as OpenAI error objects', async () => {
    const notFound = await client.completions
      .create({ model: 'gpt-4o', prompt: 'x' })
      .catch((error) => error);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound.code).toBe('model_not_found');
    expect(notFound.param).toBe('model');

    const invalid = await client.completions
      .create({ model: 'stories260K', prompt: 'x', temperature: 7 })
      .catch((error) => error);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    expect(invalid.param).toBe('temperature');
    expect(invalid.type).toBe('invalid_request_error');

    const badMessage = await client.chat.completions
      .create({ model: 'stories260K', messages: [{ role: 'user', content: 5 as unknown as string }] })
      .catch((error) => error);
    expect(badMessage.status).toBe(400);
    expect(badMessage.param).toBe('messages[0].content');

    const tooLong = await client.completions
      .create({ model: 'stories260K', prompt: 'x', max_tokens: 600 })
      .catch((error) => error);
    expect(tooLong.status).toBe(400);
    expect(tooLong.code).toBe('context_length_exceeded');

    const raw = await postJson(server, '/v1/completions', '{"model": ');
    expect(raw.status).toBe(400);
    expect(raw.json).toEqual({
      error: {
        message: 'the request body is not valid JSON',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_json',
      },
    });
    const unknownRoute = await postJson(server, '/v1/nothing', {});
    expect(unknownRoute.status).toBe(404);
    expect((await fetch(`${server.url}/v1/completions`)).status).toBe(405);
    const missingModel = await client.models.retrieve('nope').catch((error) => error);
    expect(missingModel.code).toBe('model_not_found');
  });
});
