import { argmax } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLlama2c } from '../load/llama2c';
import type { Model } from '../model';
import { Sampler } from './sampler';
import { StopStringFilter } from './stop-strings';

describe('Sampler', () => {
  const logits = () => Float32Array.from([1, 3, 2, 0.5, 2.9]);
  it('temperature 0 is argmax (first index on ties)', () => {
    expect(new Sampler({ temperature: 0 }).sample(logits())).toBe(1);
    expect(argmax(Float32Array.from([2, 5, 5]))).toBe(1);
  });
  it('top-k 1 always picks the most likely token', () => {
    const sampler = new Sampler({ temperature: 1.5, topK: 1, seed: 3 });
    for (let i = 0; i < 20; i++) expect(sampler.sample(logits())).toBe(1);
  });
  it('top-p keeps only the nucleus; min-p drops unlikely tokens', () => {
    const nucleus = new Sampler({ temperature: 1, topP: 0.5, seed: 5 });
    const minP = new Sampler({ temperature: 1, minP: 0.8, seed: 5 });
    for (let i = 0; i < 50; i++) {
      expect([1, 4]).toContain(nucleus.sample(logits()));
      expect([1, 4]).toContain(minP.sample(logits()));
    }
  });
  it('a seed gives the same draws; draws follow the distribution', () => {
    const draw = (seed: number) => {
      const sampler = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 30 }, () => sampler.sample(logits()));
    };
    expect(draw(9)).toEqual(draw(9));
    expect(draw(9)).not.toEqual(draw(10));
    const sampler = new Sampler({ temperature: 1, seed: 1 });
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const token = sampler.sample(logits());
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    const values = [1, 3, 2, 0.5, 2.9].map(Math.exp);
    const total = values.reduce((a, b) => a + b);
    expect((counts.get(1) ?? 0) / 4000).toBeCloseTo(values[1]! / total, 1);
  });
  it('repetition penalty lowers the tokens already seen', () => {
    expect(new Sampler({ temperature: 0, repetitionPenalty: 2 }).sample(logits(), [1])).toBe(4);
  });
});

describe('StopStringFilter', () => {
  it('holds back a possible stop prefix, cuts at the match, releases text that did not match', () => {
    const filter = new StopStringFilter(['END']);
    expect(filter.push('abc E')).toBe('abc ');
    expect(filter.push('N')).toBe('');
    expect(filter.push('x')).toBe('ENx');
    expect(filter.push('yyEND tail')).toBe('yy');
    expect(filter.stopped).toBe(true);
  });
});

describeWithShared(
  'generate on stories260K',
  ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'],
  () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadLlama2c(
        sharedFile('models/stories260K/stories260K.bin'),
        sharedFile('models/stories260K/tok512.bin'),
      );
    });

    it('streams tokens then one finish event; text joins to the decoded tokens', async () => {
      const tokens: number[] = [];
      let text = '';
      let finish: { finishReason: string; completionTokens: number } | undefined;
      for await (const event of model.generate('Once upon a time', { temperature: 0, maxTokens: 20 })) {
        text += event.text;
        if (event.type === 'token') tokens.push(event.token);
        else finish = event;
      }
      expect(tokens).toHaveLength(20);
      expect(finish).toMatchObject({ finishReason: 'length', completionTokens: 20 });
      const prompt = model.encode('Once upon a time');
      expect(text).toBe(
        model.tokenizer.decode([...prompt, ...tokens]).slice(model.tokenizer.decode(prompt).length),
      );
    });

    it('stops at EOS and at BOS (llama2.c rule) without emitting them', async () => {
      const greedy = await model.generateText('', { temperature: 0, maxTokens: 40 });
      const stopToken = greedy.tokens[10]!;
      const stopped = await model.generateText('', {
        temperature: 0,
        maxTokens: 40,
        stopTokens: [stopToken],
      });
      expect(stopped.finishReason).toBe('stop');
      expect(stopped.tokens).toEqual(greedy.tokens.slice(0, greedy.tokens.indexOf(stopToken)));
      // The whole-context case of REFERENCE.md ends early because the model produces BOS.
      const whole = await model.generateText('', { temperature: 0 });
      expect(whole.finishReason).toBe('stop');
      expect(whole.tokens).not.toContain(1);
      expect(whole.tokens.length).toBeLessThan(511);
    });

    it('an AbortSignal ends the stream with finishReason abort', async () => {
      const controller = new AbortController();
      let count = 0;
      let reason = '';
      for await (const event of model.generate('', { temperature: 0, signal: controller.signal })) {
        if (event.type === 'token' && ++count === 5) controller.abort();
        if (event.type === 'finish') reason = event.finishReason;
      }
      expect(count).toBe(5);
      expect(reason).toBe('abort');
    });

    it('continues on a caller-owned cache from a start position', async () => {
      const prompt = model.encode('Lily and Ben went to the zoo');
      const cache = model.createCache();
      model.forward(prompt.slice(0, 4), { cache });
      const continued = await model.generateText(prompt.slice(4), {
        temperature: 0,
        maxTokens: 15,
        cache,
        startPosition: 4,
      });
      const direct = await model.generateText(prompt, { temperature: 0, maxTokens: 15 });
      expect(continued.tokens).toEqual(direct.tokens);
    });

    it('rejects invalid options, naming the field', async () => {
      await expect(model.generateText('', { temperature: -1 })).rejects.toThrow(/options\.temperature/);
      await expect(model.generateText('', { topP: 2 })).rejects.toThrow(/options\.topP/);
    });
  },
);
