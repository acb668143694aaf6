import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from '@meld/test-utils/setup';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, MeldError, ShapeMismatchError, ValidationError } from '../errors';
import { openSafetensors } from '../formats/safetensors-reader';
import { writeSafetensors } from '../formats/safetensors-writer';
import { Tensor } from '../tensor';
import { loraDelta } from './lora-delta';
import {
  adapterDelta,
  applyAdapterToWeight,
  createLoraAdapter,
  readPeftAdapter,
  writePeftAdapter,
} from './peft-adapter';
import { isTargetModule, loraModuleScale, parsePeftLoraConfig } from './peft-config';
import { parsePeftKey, peftKey } from './peft-keys';

const folder = mkdtempSync(join(tmpdir(), 'meld-lora-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

let seed = 12345;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648 - 0.5;
}
function randomTensor(shape: number[]): Tensor {
  const data = new Float32Array(shape[0]! * shape[1]!);
  for (let i = 0; i < data.length; i++) data[i] = random();
  return Tensor.fromF32(data, shape);
}

/** Float64 reference: s · B @ A, written independently of loraDelta. */
function referenceDelta(a: Tensor, b: Tensor, scale: number): number[][] {
  const [r, inner] = a.shape as [number, number];
  const outer = b.shape[0]!;
  const av = a.toFloat32();
  const bv = b.toFloat32();
  return Array.from({ length: outer }, (_, o) =>
    Array.from({ length: inner }, (_, i) => {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += bv[o * r + k]! * av[k * inner + i]!;
      return scale * sum;
    }),
  );
}

// PEFT 0.13's save_pretrained output for a Llama adapter (abridged to the fields that matter).
const peftConfigText = `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "karpathy/tinyllamas",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 8,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "v_proj",
    "q_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false
}
`;

describe('PEFT keys', () => {
  it('maps adapter keys to canonical module names and back', () => {
    const key = 'base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight';
    expect(parsePeftKey(key)).toEqual({
      module: 'model.layers.3.self_attn.q_proj',
      part: 'A',
      kind: 'linear',
    });
    expect(peftKey('model.layers.3.self_attn.q_proj', 'A')).toBe(key);
    expect(parsePeftKey('base_model.model.model.layers.0.mlp.down_proj.lora_B.default.weight')?.module).toBe(
      'model.layers.0.mlp.down_proj',
    );
    expect(parsePeftKey('base_model.model.model.embed_tokens.lora_embedding_B')).toEqual({
      module: 'model.embed_tokens',
      part: 'B',
      kind: 'embedding',
    });
    expect(parsePeftKey('base_model.model.lm_head.weight')).toBeUndefined();
  });
});

describe('adapter_config.json', () => {
  it('parses what PEFT writes and keeps unknown fields', () => {
    const config = parsePeftLoraConfig(JSON.parse(peftConfigText));
    expect(config.r).toBe(8);
    expect(config.lora_alpha).toBe(16);
    expect(config.target_modules).toEqual(['v_proj', 'q_proj']);
    expect(config.megatron_core).toBe('megatron.core');
    expect(isTargetModule(config, 'model.layers.0.self_attn.q_proj')).toBe(true);
    expect(isTargetModule(config, 'model.layers.0.self_attn.k_proj')).toBe(false);
    expect(
      isTargetModule({ ...config, target_modules: '.*\\.(q|k)_proj' }, 'model.layers.0.self_attn.k_proj'),
    ).toBe(true);
  });

  it('any JSON, or a real config with a field replaced by any JSON, parses or fails with a ValidationError', () => {
    const real = JSON.parse(peftConfigText);
    const keys = Object.keys(real);
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...keys), fc.jsonValue(), (anything, key, value) => {
        for (const candidate of [anything, { ...real, [key]: value }]) {
          try {
            parsePeftLoraConfig(candidate);
          } catch (error) {
            expect(error).toBeInstanceOf(ValidationError);
            expect(MeldError.isInstance(error)).toBe(true);
          }
        }
      }),
      { numRuns: 200, seed: 20261126 },
    );
  });

  it('names the offending field', () => {
    expect(() => parsePeftLoraConfig({ r: 0 })).toThrow(ValidationError);
    try {
      parsePeftLoraConfig({ r: 8, peft_type: 'IA3' });
    } catch (error) {
      expect((error as ValidationError).path).toBe('adapter_config.peft_type');
    }
    expect(() => parsePeftLoraConfig({ r: 8, use_dora: true })).toThrow(/use_dora/);
    expect(() => parsePeftLoraConfig({ r: 8, target_modules: '(q_proj' })).toThrow(/target_modules/);
  });

  it('scales: alpha/r, alpha/sqrt(r) with rsLoRA, rank_pattern and alpha_pattern per module', () => {
    const config = parsePeftLoraConfig({
      r: 8,
      lora_alpha: 16,
      rank_pattern: { 'layers.1.self_attn.q_proj': 4 },
      alpha_pattern: { v_proj: 32 },
    });
    expect(loraModuleScale(config, 'model.layers.0.self_attn.q_proj')).toEqual({
      rank: 8,
      alpha: 16,
      scale: 2,
    });
    expect(loraModuleScale(config, 'model.layers.1.self_attn.q_proj')).toEqual({
      rank: 4,
      alpha: 16,
      scale: 4,
    });
    expect(loraModuleScale(config, 'model.layers.1.self_attn.v_proj').scale).toBe(4);
    expect(
      loraModuleScale({ ...config, use_rslora: true }, 'model.layers.0.self_attn.q_proj').scale,
    ).toBeCloseTo(16 / Math.sqrt(8), 12);
  });
});

describe('LoRA delta and adapter IO', () => {
  const modules = [0, 1].flatMap((layer) =>
    ['q_proj', 'v_proj'].map((name) => ({
      module: `model.layers.${layer}.self_attn.${name}`,
      kind: 'linear' as const,
      a: randomTensor([8, 64]),
      b: randomTensor([name === 'v_proj' ? 32 : 64, 8]),
    })),
  );

  it('ΔW = (alpha/r) · B @ A matches a float64 reference', () => {
    const adapter = createLoraAdapter(JSON.parse(peftConfigText), modules);
    const m = modules[1]!;
    const delta = adapterDelta(adapter, m.module);
    expect(delta.shape).toEqual([32, 64]);
    expect(delta.toFloat32()).toBeAllClose(Float32Array.from(referenceDelta(m.a, m.b, 2).flat()), {
      rtol: 1e-5,
      atol: 1e-6,
    });
    const rs = createLoraAdapter({ ...JSON.parse(peftConfigText), use_rslora: true }, modules);
    expect(adapterDelta(rs, m.module).toFloat32()).toBeAllClose(
      Float32Array.from(referenceDelta(m.a, m.b, 16 / Math.sqrt(8)).flat()),
      { rtol: 1e-5, atol: 1e-6 },
    );
  });

  it('embeddings and fan_in_fan_out give the transposed delta', () => {
    const a = randomTensor([4, 10]);
    const b = randomTensor([6, 4]);
    const reference = referenceDelta(a, b, 0.5);
    const transposed = Float32Array.from({ length: 60 }, (_, j) => reference[j % 6]![Math.floor(j / 6)]!);
    const embedding = loraDelta({ module: 'model.embed_tokens', kind: 'embedding', a, b }, { scale: 0.5 });
    expect(embedding.shape).toEqual([10, 6]);
    expect(embedding.toFloat32()).toBeAllClose(transposed, { rtol: 1e-5, atol: 1e-6 });
    const conv = loraDelta(
      { module: 'h.0.attn.c_attn', kind: 'linear', a, b },
      { scale: 0.5, fanInFanOut: true },
    );
    expect(conv.toFloat32()).toBeAllClose(transposed, { rtol: 1e-5, atol: 1e-6 });
  });

  it('writes adapter_model.safetensors + adapter_config.json as PEFT does and reads them back', () => {
    const out = join(folder, 'adapter');
    const adapter = createLoraAdapter(JSON.parse(peftConfigText), modules);
    writePeftAdapter(out, adapter);
    const file = openSafetensors(join(out, 'adapter_model.safetensors'));
    expect(file.names.sort()).toContain('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight');
    expect(file.info('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight').shape).toEqual([
      32, 8,
    ]);
    expect(file.metadata).toEqual({ format: 'pt' });
    file.close();
    const config = readFileSync(join(out, 'adapter_config.json'), 'utf8');
    expect(config).toContain('"target_modules": [\n    "v_proj",\n    "q_proj"\n  ],');
    expect(JSON.parse(config).megatron_core).toBe('megatron.core');

    const back = readPeftAdapter(out);
    expect(back.warnings).toEqual([]);
    expect([...back.modules.keys()].sort()).toEqual(modules.map((m) => m.module).sort());
    for (const m of modules) {
      expect(back.modules.get(m.module)!.a.toFloat32()).toEqual(m.a.toFloat32());
      expect(back.modules.get(m.module)!.b.toFloat32()).toEqual(m.b.toFloat32());
    }
    const base = randomTensor([64, 64]);
    const merged = applyAdapterToWeight(back, 'model.layers.0.self_attn.q_proj', base);
    const reference = referenceDelta(modules[0]!.a, modules[0]!.b, 2).flat();
    expect(merged.toFloat32()).toBeAllClose(
      Float32Array.from(reference.map((d, i) => d + base.toFloat32()[i]!)),
      {
        rtol: 1e-5,
        atol: 1e-6,
      },
    );
    expect(() =>
      applyAdapterToWeight(back, 'model.layers.0.self_attn.q_proj', randomTensor([32, 64])),
    ).toThrow(ShapeMismatchError);
  });

  it('rejects adapters with a missing factor or mismatched ranks, naming the tensor', () => {
    const out = join(folder, 'broken');
    writePeftAdapter(out, createLoraAdapter({ r: 8 }, [modules[0]!]));
    writeSafetensors(join(out, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': randomTensor([8, 64]),
    });
    expect(() => readPeftAdapter(out)).toThrow(/lora_B\.weight: the other factor is missing/);
    writeSafetensors(join(out, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': randomTensor([8, 64]),
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': randomTensor([64, 4]),
    });
    expect(() => readPeftAdapter(out)).toThrow(FormatError);
    writeFileSync(join(out, 'adapter_config.json'), '{"r": "eight"}');
    expect(() => readPeftAdapter(out)).toThrow(ValidationError);
  });
});
