// meld lora merge / continual / apply / extract on stories260K, checked through the runtime:
// a model with an adapter merged in must generate what the runtime generates with the adapter
// applied at run time (an independent implementation of W + s·B·A).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLoraAdapter,
  openSafetensorsModel,
  readPeftAdapter,
  Tensor,
  writePeftAdapter,
} from '@meld/tensor-core';
import { allClose, describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runGreedyGenerate, runMeld } from './run-meld-for-tests';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

function noise(seed: number, length: number, scale: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return scale * (state / 4294967296 - 0.5);
  });
}

describeWithShared('meld lora', files, () => {
  let root: string;
  let base: string;
  const adapters: string[] = [];
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'meld-cli-lora-'));
    base = join(root, 'base');
    expect((await runMeld(['convert', sharedFile(files[0]!), '--to', 'hf', base])).code).toBe(0);
    const model = openSafetensorsModel(base);
    for (const seed of [1, 2, 3]) {
      const modules = [0, 1, 2, 3, 4].flatMap((layer) =>
        ['self_attn.q_proj', 'mlp.down_proj'].map((suffix, i) => {
          const module = `model.layers.${layer}.${suffix}`;
          const [out, inp] = model.info(`${module}.weight`).shape as [number, number];
          return {
            module,
            kind: 'linear' as const,
            a: Tensor.fromF32(noise(seed * 100 + layer * 2 + i, 4 * inp, 0.6), [4, inp]),
            b: Tensor.fromF32(noise(seed * 100 + layer * 2 + i + 50, out * 4, 0.6), [out, 4]),
          };
        }),
      );
      const folder = join(root, `adapter-${seed}`);
      writePeftAdapter(
        folder,
        createLoraAdapter({ r: 4, lora_alpha: 8, target_modules: ['q_proj', 'down_proj'] }, modules),
      );
      adapters.push(folder);
    }
    model.close();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const generate = async (model: string, ...extra: string[]) => {
    const result = await runGreedyGenerate(model, '--max-tokens', '48', ...extra);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };

  it('apply: the merged model generates what the runtime generates with the adapter at run time', async () => {
    const out = join(root, 'applied');
    const applied = await runMeld(['lora', 'apply', '--base', base, '--adapter', adapters[0]!, out]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/applied 10 LoRA modules/);
    const merged = await generate(out);
    expect(merged).toBe(await generate(base, '--adapter', adapters[0]!));
    expect(merged).not.toBe(await generate(base)); // the adapter matters
  });

  it('merge --method cat is exact: generates like the runtime applying both adapters with their weights', async () => {
    const out = join(root, 'cat');
    const result = await runMeld([
      'lora',
      'merge',
      '--adapters',
      `${adapters[0]},${adapters[1]}`,
      '--weights',
      '0.7,0.5',
      '--method',
      'cat',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(readPeftAdapter(out).config.r).toBe(8);
    expect(await generate(base, '--adapter', out)).toBe(
      await generate(base, '--adapter', `${adapters[0]}:0.7`, '--adapter', `${adapters[1]}:0.5`),
    );
  });

  it('continual and mean write adapters with the MergeRepair weights; extract recovers an applied adapter', async () => {
    const continual = await runMeld([
      'lora',
      'continual',
      '--order',
      adapters.join(','),
      join(root, 'continual'),
    ]);
    expect(continual.code, continual.stderr).toBe(0);
    expect(continual.stderr).toMatch(/effective weights 0\.2500, 0\.2500, 0\.5000/);
    const mean = await runMeld([
      'lora',
      'merge',
      '--adapters',
      adapters.join(','),
      '--method',
      'mean',
      join(root, 'mean'),
    ]);
    expect(mean.code, mean.stderr).toBe(0);
    const module = 'model.layers.2.mlp.down_proj';
    const inputs = adapters.map((a) => readPeftAdapter(a).modules.get(module)!.a.toFloat32());
    const averaged = readPeftAdapter(join(root, 'mean')).modules.get(module)!.a.toFloat32();
    const expected = inputs[0]!.map((_, k) => (inputs[0]![k]! + inputs[1]![k]! + inputs[2]![k]!) / 3);
    expect(allClose(averaged, expected, { rtol: 1e-6, atol: 1e-7 }).pass).toBe(true);
    const extracted = join(root, 'extracted');
    const result = await runMeld([
      'lora',
      'extract',
      '--base',
      base,
      '--tuned',
      join(root, 'applied'),
      '--rank',
      '8',
      '--epsilon',
      '1e-4',
      extracted,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/extracted 10 LoRA modules \(ranks 4\.\.4\)/);
    expect(await generate(base, '--adapter', extracted)).toBe(await generate(join(root, 'applied')));
  });

  it('rejects bad flags with exit 2 and documents every command', async () => {
    expect((await runMeld(['lora', 'merge', 'out'])).stderr).toMatch(/--adapters/);
    expect((await runMeld(['lora', 'merge', '--adapters', 'a,b', '--method', 'avg', 'out'])).code).toBe(2);
    expect((await runMeld(['lora', 'apply', '--base', 'x', 'out'])).stderr).toMatch(/--adapter/);
    for (const name of ['merge', 'continual', 'apply', 'extract']) {
      expect((await runMeld(['lora', name, '--help'])).stdout).toMatch(/Options:/);
    }
  });
});
