// KV-cache policies on a real model (stories260K): at a 100% budget every policy must give logits
// identical to the full cache; at 35% the budget holds during real decoding and the output changes.
import { readFileSync } from 'node:fs';
import { type CompressedKVCache, kvPolicies, resolveKVOptions } from '@meld/kv-cache';
import { loadLlama2c, type Model } from '@meld/runtime';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

/** Prompt logits (batched prefill, all rows) then `steps` teacher-forced single-token logits. */
function run(model: Model, cache: ReturnType<Model['createCache']>, tokens: number[], promptLength: number) {
  const rows: Float32Array[] = [
    model.forward(tokens.slice(0, promptLength), { cache, logits: 'all', startPosition: 0 }),
  ];
  for (let i = promptLength; i < tokens.length; i++) {
    rows.push(model.forward([tokens[i] as number], { cache, startPosition: i }));
  }
  return rows;
}

describeWithShared('kv-cache policies on stories260K', files, () => {
  let model: Model;
  let tokens: number[];
  let reference: Float32Array[];
  const promptLength = 200;
  beforeAll(async () => {
    model = await loadLlama2c(
      sharedFile('models/stories260K/stories260K.bin'),
      sharedFile('models/stories260K/tok512.bin'),
    );
    const text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8').slice(0, 4000);
    tokens = model.encode(text).slice(0, promptLength + 24);
    reference = run(model, model.createCache(), tokens, promptLength);
  });
  const shape = () => ({
    layers: model.config.numLayers,
    kvHeads: model.config.numKVHeads,
    headDim: model.config.headDim,
  });

  it.each(kvPolicies.map((p) => [p.name]))(
    '%s at a full (100 percent) budget gives logits identical to the full cache',
    (name) => {
      const cache = resolveKVOptions({ policy: name, budget: '100%', compressEvery: 1 }).createCache(shape());
      const compressed = run(model, cache, tokens, promptLength);
      expect(compressed.length).toBe(reference.length);
      for (let i = 0; i < reference.length; i++) expect(compressed[i]).toEqual(reference[i]);
    },
  );

  it.each(kvPolicies.filter((p) => p.name !== 'full').map((p) => [p.name]))(
    '%s at a 35 percent budget keeps within budget while decoding and changes the distribution',
    (name) => {
      const cache = resolveKVOptions({ policy: name, budget: '35%', compressEvery: 1 }).createCache(
        shape(),
      ) as CompressedKVCache;
      const compressed = run(model, cache, tokens, promptLength);
      for (let layer = 0; layer < model.config.numLayers; layer++) {
        for (let h = 0; h < model.config.numKVHeads; h++) {
          expect(cache.head(layer, h).length).toBeLessThanOrEqual(Math.floor(0.35 * tokens.length));
        }
      }
      expect(cache.bytes()).toBe(cache.slots() * cache.bytesPerSlot());
      // prompt logits come from the uncompressed prefill; the decoded ones see the compressed cache
      expect(compressed[0]).toEqual(reference[0]);
      const last = compressed.length - 1;
      expect(compressed[last]).not.toEqual(reference[last]);
      for (const row of compressed) expect(row.every(Number.isFinite)).toBe(true);
    },
  );
});
