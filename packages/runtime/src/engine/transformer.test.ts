import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { loadLlama2c } from '../load/llama2c';
import type { Model } from '../model';
import { readReferenceWeights, referenceLogits } from '../test-support/reference-forward';
import type { AttentionEvent, AttentionObserverV1 } from './attention-observer';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

describeWithShared('forward pass against a float64 reference', files, () => {
  let model: Model;
  let tokens: number[];
  let expected: Float64Array[];
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    tokens = model.encode('Lily and Ben went to the zoo. They saw a big lion and a little monkey!');
    expected = referenceLogits(readReferenceWeights(sharedFile(files[0]!)), tokens);
  });

  const tolerance = (row: Float64Array) => ({ rtol: 1e-4, atol: 1e-4 * Math.max(...row.map(Math.abs)) });

  it('batched prefill: logits at every position match to 1e-4 relative', () => {
    const vocab = model.config.vocabSize;
    const logits = model.forward(tokens, { logits: 'all' });
    expect(logits.length).toBe(tokens.length * vocab);
    tokens.forEach((_, i) => {
      expect(logits.subarray(i * vocab, (i + 1) * vocab)).toBeAllClose(expected[i]!, tolerance(expected[i]!));
    });
  });

  it('token-by-token decoding over one cache gives the same logits', () => {
    const cache = model.createCache();
    tokens.forEach((token, i) => {
      const logits = model.forward([token], { cache });
      expect(logits).toBeAllClose(expected[i]!, tolerance(expected[i]!));
    });
    expect(cache.length(0)).toBe(tokens.length);
  });

  it('a prefill split in two chunks over one cache equals one pass', () => {
    const cache = model.createCache();
    const split = 7;
    model.forward(tokens.slice(0, split), { cache });
    const vocab = model.config.vocabSize;
    const rest = model.forward(tokens.slice(split), { cache, logits: 'all' });
    for (let i = split; i < tokens.length; i++) {
      const row = rest.subarray((i - split) * vocab, (i - split + 1) * vocab);
      expect(row).toBeAllClose(expected[i]!, tolerance(expected[i]!));
    }
  });

  it('runLayers over two layer ranges equals the full stack', () => {
    const { numLayers } = model.config;
    const positions = Int32Array.from(tokens, (_, i) => i);
    const cache = model.createCache();
    const hidden = model.embed(tokens);
    model.runLayers(hidden, { start: 0, end: 2, positions, cache });
    model.runLayers(hidden, { start: 2, end: numLayers, positions, cache });
    const last = tokens.length - 1;
    expect(model.logits(hidden, [last])).toBeAllClose(expected[last]!, tolerance(expected[last]!));
  });

  it('attention observers see each head of the last query: rows sum to 1 and match a reference softmax', () => {
    const events: AttentionEvent[] = [];
    const observer: AttentionObserverV1 = {
      specificationVersion: 'v1',
      layers: [0, 3],
      includeLogits: true,
      onAttention: (event) =>
        events.push({ ...event, weights: event.weights.slice(), logits: event.logits?.slice() }),
    };
    model.forward(tokens, { observers: [observer] });
    const { numHeads } = model.config;
    expect(events).toHaveLength(2 * numHeads);
    for (const event of events) {
      expect(event.queryIndices).toEqual(Int32Array.of(tokens.length - 1));
      expect(event.queryPositions).toEqual(Int32Array.of(tokens.length - 1));
      expect(event.length).toBe(tokens.length);
      const sum = event.weights.reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
      const logits = event.logits!;
      const max = Math.max(...logits);
      const exps = Array.from(logits, (value) => Math.exp(value - max));
      const total = exps.reduce((a, b) => a + b, 0);
      expect(event.weights).toBeAllClose(
        exps.map((e) => e / total),
        { rtol: 1e-5, atol: 1e-7 },
      );
    }
    // GQA: heads 0 and 1 share KV head 0 (8 query heads over 4 KV heads).
    expect(events.filter((e) => e.layer === 0).map((e) => e.kvHead)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('observers asking for all queries get a causal [T, T] matrix', () => {
    let weights: Float32Array | undefined;
    model.forward(tokens.slice(0, 5), {
      observers: [
        {
          specificationVersion: 'v1',
          layers: [1],
          queries: 'all',
          onAttention: (event) => {
            if (event.head === 2) weights = event.weights.slice();
          },
        },
      ],
    });
    expect(weights).toBeDefined();
    for (let i = 0; i < 5; i++) {
      for (let j = i + 1; j < 5; j++) expect(weights![i * 5 + j]).toBe(0);
    }
    expect(weights![0]).toBeCloseTo(1, 6);
  });
});
