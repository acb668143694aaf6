import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeGgufModel } from '../convert/write-gguf';
import type { Model } from '../model';
import { readReferenceCases } from '../test-support/reference';
import { runLikeLlama2c } from '../test-support/run-like-llama2c';
import { loadLlama2c } from './llama2c';
import { loadModel } from './load-model';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'models/stories260K/REFERENCE.md',
  'models/stories260K/stories260K.gguf',
];

describeWithShared('GGUF: stories260K.gguf and our own GGUF output', files, () => {
  let llama2c: Model;
  let gguf: Model;
  let folder: string;
  beforeAll(async () => {
    llama2c = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    gguf = await loadModel(sharedFile(files[3]!));
    folder = mkdtempSync(join(tmpdir(), 'meld-runtime-gguf-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('reads the metadata: the GGUF claims a 2048 context, which --context overrides', async () => {
    expect(gguf.format).toBe('gguf');
    expect(gguf.config).toMatchObject({
      numLayers: 5,
      numHeads: 8,
      numKVHeads: 4,
      headDim: 8,
      vocabSize: 512,
      contextLength: 2048,
    });
    expect((await loadModel(sharedFile(files[3]!), { contextLength: 512 })).config.contextLength).toBe(512);
  });

  it('un-permutes llama.cpp q/k rows: logits equal the llama2.c checkpoint', () => {
    const tokens = llama2c.encode('Lily and Ben went to the zoo');
    expect(gguf.encode('Lily and Ben went to the zoo')).toEqual(tokens);
    expect(gguf.forward(tokens, { logits: 'all' })).toBeAllClose(llama2c.forward(tokens, { logits: 'all' }), {
      rtol: 1e-5,
      atol: 1e-5,
    });
  });

  it('greedy text from the .gguf equals run.c on every REFERENCE.md case', async () => {
    for (const reference of readReferenceCases(sharedFile(files[2]!))) {
      expect(await runLikeLlama2c(gguf, reference.prompt, reference.steps)).toBe(reference.stdout);
    }
  });

  it('llama2.c -> our GGUF (f32) -> load gives run.c text; f16 logits are close', async () => {
    const path = join(folder, 'f32.gguf');
    writeGgufModel(llama2c, path, { dtype: 'f32' });
    const converted = await loadModel(path);
    expect(converted.config.contextLength).toBe(512);
    for (const reference of readReferenceCases(sharedFile(files[2]!))) {
      expect(await runLikeLlama2c(converted, reference.prompt, reference.steps)).toBe(reference.stdout);
    }
    writeGgufModel(llama2c, join(folder, 'f16.gguf'), { dtype: 'f16' });
    const half = await loadModel(join(folder, 'f16.gguf'));
    const tokens = llama2c.encode('Once upon a time');
    expect(half.forward(tokens)).toBeAllClose(llama2c.forward(tokens), { rtol: 2e-2, atol: 2e-2 });
  });

  it('q8_0 output keeps matrices quantized and stays close to f32', async () => {
    const path = join(folder, 'q8.gguf');
    const { warnings } = writeGgufModel(llama2c, path, { dtype: 'q8_0' });
    // 172-column down projections are not whole 32-blocks: f16 instead.
    expect(warnings.some((w) => w.includes('down_proj'))).toBe(true);
    const quantized = await loadModel(path);
    expect(quantized.tensors.get('model.layers.0.self_attn.q_proj.weight')!.dtype).toBe('q8_0');
    expect(quantized.transformer.weights.layers[0]!.q.dtype).toBe('q8_0');
    const tokens = llama2c.encode('Once upon a time, there was a little girl');
    const reference = llama2c.forward(tokens);
    const logits = quantized.forward(tokens);
    const scale = Math.max(...reference.map(Math.abs));
    expect(logits).toBeAllClose(reference, { rtol: 0, atol: 0.05 * scale });
    // Prefill (decoded q8_0 rows through the f32 matmul, in 256-row chunks) and decoding (the SIMD
    // q8_0 matvec on int16-quantized inputs) agree on every position.
    const all = quantized.forward(tokens, { logits: 'all' });
    const cache = quantized.createCache();
    const vocab = quantized.config.vocabSize;
    tokens.forEach((token, i) => {
      const step = quantized.forward([token], { cache });
      expect(step).toBeAllClose(all.subarray(i * vocab, (i + 1) * vocab), { rtol: 1e-3, atol: 1e-3 * scale });
    });
  });
});
