import { resolveKVOptions } from '@meld/kv-cache';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { loadLlama2c } from './load/llama2c';
import type { Model } from './model';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

describeWithShared('Model.forward continues a compressed cache at the right position', files, () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
  });

  it('without startPosition, the next token is placed after the newest cached position, not at the slot count', () => {
    const prompt = model.encode(
      'Once upon a time, there was a little girl named Lily. She loved to play outside.',
    );
    const shape = {
      layers: model.config.numLayers,
      kvHeads: model.config.numKVHeads,
      headDim: model.config.headDim,
    };
    const run = (explicit: boolean) => {
      const cache = resolveKVOptions({ policy: 'streaming_llm', budget: '50%' }).createCache(shape);
      model.forward(prompt, { cache });
      // The first single-token step compresses the prompt to half its slots; the second one must still
      // be placed at position prompt.length + 1.
      model.forward([42], explicit ? { cache, startPosition: prompt.length } : { cache });
      expect(cache.length(0)).toBeLessThan(prompt.length);
      return model.forward([43], explicit ? { cache, startPosition: prompt.length + 1 } : { cache });
    };
    const explicit = run(true);
    const implicit = run(false);
    expect(Array.from(implicit)).toEqual(Array.from(explicit));
  });
});
