import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveKVOptions } from '@meld/kv-cache';
import { loadModel, type Model } from '@meld/runtime';
import { FormatError } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { calibrateHomer, loadHomerCalibration, saveHomerCalibration } from './calibration';
import { ChunkKVCache } from './chunk-cache';
import { homerGenerate } from './generate';
import { homerPrefill } from './homer';
import { homerLogLikelihood } from './log-likelihood';
import { chunkKVBytesPerToken, plainPrefillBytes } from './memory';
import { makeLeaf } from './schedule';
import { homerInputFromText } from './text-input';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

describeWithShared('HOMER on stories260K', files, () => {
  let model: Model;
  let text: string;
  let tokens: number[];
  beforeAll(async () => {
    model = await loadModel(sharedFile('models/stories260K/stories260K.bin'));
    text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8').slice(0, 40_000);
    tokens = model.encode(text, { addBos: false });
  });

  it('an input that fits in one chunk gives exactly the plain runtime logits and cache', () => {
    const input = { prefix: [1], context: tokens.slice(0, 150), suffix: tokens.slice(150, 170) };
    const result = homerPrefill(model, input);
    expect(result.plan.leafCount).toBe(1);
    expect(result.keptTokens).toBe(171);
    const cache = model.createCache();
    const plain = model.forward([1, ...tokens.slice(0, 170)], { cache });
    expect(result.logits).toBeAllClose(plain, { rtol: 1e-6, atol: 1e-6 });
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      const a = result.cache.head(layer, 1);
      const b = cache.head(layer, 1);
      expect(a.keys.subarray(0, 171 * 8)).toBeAllClose(b.keys.subarray(0, 171 * 8), {
        rtol: 1e-6,
        atol: 1e-6,
      });
    }
  });

  it('pruning keeps every layer on the same tokens; leaf-layer KV are the leaf’s own, affixes the mean over leaves', () => {
    const input = { prefix: [1], context: tokens.slice(0, 900), suffix: tokens.slice(900, 916) };
    const result = homerPrefill(model, input, { maxChunkLength: 128 });
    const { plan } = result;
    expect(plan.leafCount).toBe(16);
    expect(plan.blocks[0]).toEqual({ height: 0, start: 0, end: 2 });
    // children reduce to 1 + floor(111 / 2) + 16 = 72 tokens; the root holds 72 + 72 - 17 = 127 <= 128
    expect(plan.childTargetLength).toBe(72);
    expect(result.keptTokens).toBe(127);
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      for (let head = 0; head < model.config.numKVHeads; head++) {
        const view = result.cache.head(layer, head);
        expect(view.length).toBe(result.keptTokens);
        expect(Array.from(view.positions.subarray(0, view.length))).toEqual(Array.from(result.positions));
      }
    }
    // Run each leaf alone through the leaf block [0, 2) (what HOMER did before any reduction).
    const leaves = Array.from({ length: plan.leafCount }, (_, i) => {
      const leaf = makeLeaf(plan, input.prefix, input.context, input.suffix, i);
      const cache = new ChunkKVCache(result.cache.shape);
      model.runLayers(model.embed(leaf.tokens), { start: 0, end: 2, positions: leaf.positions, cache });
      return { leaf, cache };
    });
    const headDim = model.config.headDim;
    const keyOf = (cache: ChunkKVCache, layer: number, row: number) =>
      cache.head(layer, 0).keys.subarray(row * headDim, (row + 1) * headDim);
    // Kept context rows are in leaf order; positions restart in each leaf, so a drop marks a new leaf.
    let leafIndex = 0;
    let previous = 0;
    let checked = 0;
    const rows = result.keptTokens;
    for (let row = 1; row < rows - input.suffix.length; row++) {
      const position = result.positions[row]!;
      if (position <= previous) leafIndex++;
      previous = position;
      const { leaf, cache } = leaves[leafIndex]!;
      const leafRow = leaf.positions.indexOf(position);
      for (const layer of [0, 1]) {
        expect(keyOf(result.cache, layer, row)).toBeAllClose(keyOf(cache, layer, leafRow), {
          rtol: 1e-5,
          atol: 1e-5,
        });
      }
      checked++;
    }
    expect(checked).toBe(rows - 1 - input.suffix.length);
    // A balanced tree of (L + R) / 2 is the mean over the 16 leaves: check the last suffix row at layer 1.
    const mean = new Float64Array(headDim);
    for (const { leaf, cache } of leaves) {
      const key = keyOf(cache, 1, leaf.positions.length - 1);
      for (let d = 0; d < headDim; d++) mean[d] = mean[d]! + key[d]! / leaves.length;
    }
    expect(keyOf(result.cache, 1, rows - 1)).toBeAllClose(mean, { rtol: 1e-4, atol: 1e-5 });
  });

  it('peak memory grows by at most one chunk state per doubling of the input (logarithmic)', () => {
    const peaks = [512, 1024, 2048].map(
      (length) =>
        homerPrefill(
          model,
          { prefix: [1], context: tokens.slice(0, length), suffix: tokens.slice(length, length + 8) },
          { maxChunkLength: 64 },
        ).peakBytes,
    );
    const chunkState = 64 * (chunkKVBytesPerToken(model.config) + model.config.hiddenSize * 4 + 12);
    const increments = [peaks[1]! - peaks[0]!, peaks[2]! - peaks[1]!];
    for (const increment of increments) expect(increment).toBeLessThanOrEqual(chunkState);
    expect(peaks[2]! / peaks[0]!).toBeLessThan(2); // linear growth would be 4x
    expect(plainPrefillBytes(model.config, 2048 + 9)).toBeGreaterThan(10 * peaks[2]!);
  });

  it('continues a >512-token story: generation runs from the merged cache inside the trained positions', async () => {
    const story = text.slice(0, 3200);
    const input = homerInputFromText(model, story);
    const total = input.prefix.length + input.context.length + input.suffix.length;
    expect(total).toBeGreaterThan(512);
    const result = homerPrefill(model, input);
    expect(result.warnings.join()).toMatch(/no calibration/);
    expect(result.keptTokens).toBe(
      2 * result.plan.childTargetLength - input.prefix.length - input.suffix.length,
    );
    expect(result.keptTokens).toBeLessThanOrEqual(256);
    expect(result.lastPosition).toBeLessThan(256);
    const generated: number[] = [];
    let output = '';
    for await (const event of homerGenerate(model, result, {
      temperature: 0,
      maxTokens: 24,
      lastInputToken: input.suffix.at(-1)!,
    })) {
      output += event.text;
      if (event.type === 'token') generated.push(event.token);
    }
    expect(generated.length).toBeGreaterThan(3);
    expect(output).toMatch(/[a-z]+ [a-z]+/);
    // The cache grew by the generated tokens (the last one is never run) at positions last + 1, ...
    const view = result.cache.head(4, 0);
    const kept = result.keptTokens;
    expect(view.length).toBe(kept + generated.length - 1);
    expect(Array.from(view.positions.subarray(kept, view.length))).toEqual(
      Array.from({ length: generated.length - 1 }, (_, i) => result.lastPosition + 1 + i),
    );
    // The merged cache can continue inside a kv-cache policy cache (here StreamingLLM at 64 tokens).
    const policyCache = resolveKVOptions({
      policy: 'streaming_llm',
      budget: '64',
      compressEvery: 1,
    }).createCache(result.cache.shape);
    const again = homerPrefill(model, input);
    const withPolicy: number[] = [];
    for await (const event of homerGenerate(model, again, {
      temperature: 0,
      maxTokens: 8,
      cache: policyCache,
    })) {
      if (event.type === 'token') withPolicy.push(event.token);
    }
    expect(withPolicy[0]).toBe(generated[0]);
    expect(withPolicy.length).toBe(8);
    expect(policyCache.length(0)).toBeLessThanOrEqual(64 + 1);
    // Teacher forcing the generated tokens gives them back as the argmax (greedy decoding agrees).
    const fresh = homerPrefill(model, input);
    const logProbs = homerLogLikelihood(model, fresh, generated);
    for (const logProb of logProbs) expect(logProb).toBeGreaterThan(Math.log(1 / model.config.vocabSize));
  });

  it('measures a calibration bias, stores it as JSON beside the model and reads it back', () => {
    const calibration = calibrateHomer(model, text.slice(0, 8000), { maxWindows: 2, windowLength: 256 });
    expect(calibration.bias).toHaveLength(model.config.numLayers);
    expect(calibration.bias[0]).toHaveLength(256);
    expect(calibration.bias.flat().every(Number.isFinite)).toBe(true);
    const folder = mkdtempSync(join(tmpdir(), 'homer-'));
    const path = join(folder, 'stories260K.bin.homer-calibration.json');
    saveHomerCalibration(path, calibration);
    expect(loadHomerCalibration(path)).toEqual(calibration);
    writeFileSync(path, JSON.stringify({ ...calibration, bias: 'none' }));
    expect(() => loadHomerCalibration(path)).toThrow(FormatError);
    expect(() => loadHomerCalibration(path)).toThrow(/bias/);
    const calibrated = homerPrefill(
      model,
      { prefix: [1], context: tokens.slice(0, 900), suffix: tokens.slice(900, 916) },
      { calibration },
    );
    expect(calibrated.warnings).toEqual([]);
    expect(calibrated.keptTokens).toBe(255);
  });
});
