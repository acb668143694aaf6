import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoraAdapter, type LoraAdapter, Tensor, writePeftAdapter } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { XorShiftRandom } from './generation/sampler';
import { loadLlama2c } from './load/llama2c';
import { loadLoraAdapter, mergeAdapters } from './lora-adapters';
import type { Model } from './model';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

function randomAdapter(
  model: Model,
  seed: number,
  targets: string[],
  rank: number,
  alpha: number,
): LoraAdapter {
  const random = new XorShiftRandom(seed);
  const values = (n: number) => Float32Array.from({ length: n }, () => (random.next() - 0.5) * 0.4);
  const modules = [];
  for (let layer = 0; layer < model.config.numLayers; layer++) {
    for (const target of targets) {
      const module = `model.layers.${layer}.${target}`;
      const [out, inFeatures] = model.tensors.get(`${module}.weight`)!.shape as [number, number];
      modules.push({
        module,
        kind: 'linear' as const,
        a: Tensor.fromF32(values(rank * inFeatures), [rank, inFeatures]),
        b: Tensor.fromF32(values(out * rank), [out, rank]),
      });
    }
  }
  return createLoraAdapter(
    { r: rank, lora_alpha: alpha, target_modules: targets.map((t) => t.split('.')[1]!) },
    modules,
  );
}

describeWithShared('LoRA adapters at run time', files, () => {
  let model: Model;
  let folder: string;
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    folder = mkdtempSync(join(tmpdir(), 'meld-runtime-lora-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('two PEFT adapters applied unmerged with weights equal the weights merged in', () => {
    const first = randomAdapter(model, 11, ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'], 4, 8);
    const second = randomAdapter(
      model,
      12,
      ['self_attn.k_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj'],
      2,
      4,
    );
    writePeftAdapter(join(folder, 'first'), first);
    writePeftAdapter(join(folder, 'second'), second);
    const loadedFirst = loadLoraAdapter(join(folder, 'first'));
    const loadedSecond = loadLoraAdapter(join(folder, 'second'));
    const tokens = model.encode('Lily and Ben went to the zoo');
    const base = model.forward(tokens, { logits: 'all' });
    const unmerged = model.forward(tokens, {
      logits: 'all',
      adapters: [
        { adapter: loadedFirst, weight: 0.7 },
        { adapter: loadedSecond, weight: -0.3 },
      ],
    });
    const merged = mergeAdapters(model, [
      { adapter: loadedFirst.peft, weight: 0.7 },
      { adapter: loadedSecond.peft, weight: -0.3 },
    ]).forward(tokens, { logits: 'all' });
    expect(unmerged).toBeAllClose(merged, { rtol: 1e-4, atol: 1e-4 });
    const difference = unmerged.reduce((max, value, i) => Math.max(max, Math.abs(value - base[i]!)), 0);
    expect(difference).toBeGreaterThan(0.05);
    // The base model is untouched by merging.
    expect(model.forward(tokens, { logits: 'all' })).toEqual(base);
  });

  it('an adapter with weight 0 changes nothing', () => {
    const adapter = loadLoraAdapter(join(folder, 'first'));
    const tokens = model.encode('Once upon a time');
    expect(model.forward(tokens, { adapters: [{ adapter, weight: 0 }] })).toEqual(model.forward(tokens));
  });
});
