// Real merges on disk: stories260K written as a Hugging Face folder and fine-tune-like variants.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoraAdapter, openSafetensorsModel, Tensor, writePeftAdapter } from '@meld/tensor-core';
import { describeWithShared } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MergeConfigError } from './config/parse';
import {
  ArchitectureMismatchError,
  MissingTensorError,
  TensorShapeMismatchError,
  UnmatchedTensorError,
} from './errors';
import { applyLoraAdapter } from './lora/apply';
import { mergeModels } from './merge-model';
import { mergeTensors } from './merge-tensors';
import { seededData } from './methods/reference.test-helpers';
import {
  loadStories,
  perturb,
  type StoriesWeights,
  storiesFiles,
  writeStoriesFolder,
} from './test-support/stories-model';

describeWithShared('mergeModels on stories260K', storiesFiles, () => {
  let root: string;
  let base: StoriesWeights;
  let tunedA: StoriesWeights;
  let tunedB: StoriesWeights;
  const folders: Record<string, string> = {};

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'meld-merge-'));
    base = loadStories();
    tunedA = perturb(base, 11, 0.05);
    tunedB = perturb(base, 12, 0.05);
    folders.base = writeStoriesFolder(join(root, 'base'), base);
    folders.a = writeStoriesFolder(join(root, 'a'), tunedA, { maxShardBytes: 300_000 }); // sharded + index
    folders.b = writeStoriesFolder(join(root, 'b'), tunedB);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const read = (folder: string) => {
    const model = openSafetensorsModel(folder);
    const out = new Map(model.names.map((name) => [name, model.readTensor(name).toFloat32().slice()]));
    model.close();
    return out;
  };
  const yaml = (text: string) =>
    text
      .replaceAll('BASE', folders.base!)
      .replaceAll('MODEL_A', folders.a!)
      .replaceAll('MODEL_B', folders.b!);

  it('linear: every tensor equals the float64 weighted mean; shards, index, config, tokenizer, README', () => {
    const out = join(root, 'linear-out');
    const config = yaml(`
merge_method: linear
models:
  - model: BASE
    parameters: { weight: 0.5 }
  - model: MODEL_A
    parameters: { weight: 0.3 }
  - model: MODEL_B
    parameters: { weight: 0.2 }
dtype: float32
`);
    const events: string[] = [];
    const result = mergeModels({
      config,
      outputDir: out,
      outShardBytes: 400_000,
      onProgress: (e) => events.push(e.type),
    });
    expect(result.tensors).toBe(base.tensors.size);
    expect(result.files.length).toBeGreaterThan(1);
    expect(existsSync(join(out, 'model.safetensors.index.json'))).toBe(true);
    const merged = read(out);
    expect(merged.size).toBe(base.tensors.size);
    for (const [name, values] of base.tensors) {
      const a = tunedA.tensors.get(name)!;
      const b = tunedB.tensors.get(name)!;
      const expected = Array.from(values, (v, i) => (0.5 * v + 0.3 * a[i]! + 0.2 * b[i]!) / 1.0);
      expect(merged.get(name)!).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-6 });
    }
    const outConfig = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(outConfig.architectures).toEqual(['LlamaForCausalLM']);
    expect(outConfig.torch_dtype).toBe('float32');
    expect(readFileSync(join(out, 'tokenizer.model'))).toEqual(
      readFileSync(join(folders.base!, 'tokenizer.model')),
    );
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('merge_method: linear');
    expect(events[0]).toBe('plan-ready');
    expect(events.filter((e) => e === 'tensor-end').length).toBe(result.tensors);
    expect(events.at(-1)).toBe('merge-finished');
    // nothing staged is left beside OUT_DIR
    expect(readdirSync(root).filter((name) => name.includes('meld-tmp'))).toEqual([]);
  });

  it('ties with a per-layer density gradient and filtered weights matches the method on each tensor', () => {
    const out = join(root, 'ties-out');
    const config = yaml(`
merge_method: ties
base_model: BASE
models:
  - model: MODEL_A
    parameters:
      density: [0.2, 0.8]
      weight:
        - filter: mlp
          value: 0.9
        - value: 0.4
  - model: MODEL_B
    parameters: { density: 0.5, weight: 0.6 }
parameters:
  normalize: true
dtype: bfloat16
`);
    mergeModels({ config, outputDir: out });
    const merged = openSafetensorsModel(out);
    const layers = base.config.num_hidden_layers as number;
    for (const name of [
      'model.layers.0.mlp.up_proj.weight',
      `model.layers.${layers - 1}.self_attn.q_proj.weight`,
      'model.embed_tokens.weight',
    ]) {
      const layer = Number(/layers\.(\d+)\./.exec(name)?.[1] ?? 0);
      const t = name.includes('embed') ? 0 : layer / (layers - 1);
      const expected = mergeTensors({
        method: 'ties',
        tensorName: name,
        base: base.tensors.get(name)!,
        models: [tunedA.tensors.get(name)!, tunedB.tensors.get(name)!],
        shape: base.shapes.get(name)!,
        modelParameters: [
          { density: 0.2 + 0.6 * t, weight: name.includes('mlp') ? 0.9 : 0.4 },
          { density: 0.5, weight: 0.6 },
        ],
        parameters: { normalize: true },
      }).tensor.toFloat32();
      const got = merged.readTensor(name);
      expect(got.dtype).toBe('bf16');
      expect(got.toFloat32()).toBeAllClose(expected, { rtol: 1 / 128, atol: 1e-6 });
    }
    merged.close();
  });

  it('slerp with a t gradient reproduces the base at layer 0 and the other model at the last layer', () => {
    const out = join(root, 'slerp-out');
    mergeModels({
      config: yaml(`
merge_method: slerp
base_model: BASE
models:
  - model: BASE
  - model: MODEL_A
parameters:
  t: [0, 1]
dtype: float32
`),
      outputDir: out,
    });
    const merged = read(out);
    const last = (base.config.num_hidden_layers as number) - 1;
    const first = 'model.layers.0.self_attn.v_proj.weight';
    const final = `model.layers.${last}.self_attn.v_proj.weight`;
    expect(merged.get(first)!).toBeAllClose(base.tensors.get(first)!, { rtol: 1e-5, atol: 1e-6 });
    expect(merged.get(final)!).toBeAllClose(tunedA.tensors.get(final)!, { rtol: 1e-5, atol: 1e-6 });
  });

  it('slices (passthrough frankenmerge) stack layers and renumber them; config.json gets the new depth', () => {
    const out = join(root, 'slices-out');
    mergeModels({
      config: yaml(`
slices:
  - sources:
      - model: BASE
        layer_range: [0, 3]
  - sources:
      - model: MODEL_A
        layer_range: [1, 4]
merge_method: passthrough
dtype: float32
`),
      outputDir: out,
    });
    const merged = read(out);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).num_hidden_layers).toBe(6);
    expect(Array.from(merged.get('model.layers.4.mlp.down_proj.weight')!)).toEqual(
      Array.from(tunedA.tensors.get('model.layers.2.mlp.down_proj.weight')!),
    );
    expect(Array.from(merged.get('model.layers.1.mlp.down_proj.weight')!)).toEqual(
      Array.from(base.tensors.get('model.layers.1.mlp.down_proj.weight')!),
    );
    expect(merged.has('model.layers.6.mlp.down_proj.weight')).toBe(false);
    expect(Array.from(merged.get('model.embed_tokens.weight')!)).toEqual(
      Array.from(base.tensors.get('model.embed_tokens.weight')!),
    );
  });

  it('mergekit’s gradient-slerp shape (slices with the base among the sources, filtered t gradients)', () => {
    const out = join(root, 'gradient-slerp-out');
    mergeModels({
      config: yaml(`
slices:
  - sources:
      - model: BASE
        layer_range: [0, 5]
      - model: MODEL_A
        layer_range: [0, 5]
merge_method: slerp
base_model: BASE
parameters:
  t:
    - filter: self_attn
      value: [0, 1]
    - filter: mlp
      value: [1, 0]
    - value: 0.5
dtype: float32
`),
      outputDir: out,
    });
    const merged = read(out);
    const close = { rtol: 1e-5, atol: 1e-6 };
    expect(merged.get('model.layers.0.self_attn.k_proj.weight')!).toBeAllClose(
      base.tensors.get('model.layers.0.self_attn.k_proj.weight')!,
      close,
    );
    expect(merged.get('model.layers.4.self_attn.k_proj.weight')!).toBeAllClose(
      tunedA.tensors.get('model.layers.4.self_attn.k_proj.weight')!,
      close,
    );
    expect(merged.get('model.layers.0.mlp.gate_proj.weight')!).toBeAllClose(
      tunedA.tensors.get('model.layers.0.mlp.gate_proj.weight')!,
      close,
    );
    expect(merged.get('model.layers.4.mlp.gate_proj.weight')!).toBeAllClose(
      base.tensors.get('model.layers.4.mlp.gate_proj.weight')!,
      close,
    );
    const name = 'model.layers.2.input_layernorm.weight';
    const half = mergeTensors({
      method: 'slerp',
      base: base.tensors.get(name)!,
      models: [tunedA.tensors.get(name)!],
      parameters: { t: 0.5 },
    });
    expect(merged.get(name)!).toBeAllClose(half.tensor.toFloat32(), close);
    expect(merged.get(name)!).not.toBeAllClose(base.tensors.get(name)!, close);
  });

  it('`model: base+lora_path` merges the adapter in as tensors are read (same as lora apply first)', () => {
    const module = 'model.layers.1.self_attn.v_proj';
    const [rows, cols] = base.shapes.get(`${module}.weight`)! as [number, number];
    const adapterFolder = join(root, 'adapter');
    writePeftAdapter(
      adapterFolder,
      createLoraAdapter({ r: 2, lora_alpha: 4, target_modules: ['v_proj'] }, [
        {
          module,
          kind: 'linear',
          a: Tensor.fromF32(seededData(41, 2 * cols, 0.3), [2, cols]),
          b: Tensor.fromF32(seededData(42, rows * 2, 0.3), [rows, 2]),
        },
      ]),
    );
    const out = join(root, 'plus-lora-out');
    mergeModels({
      config: yaml(
        `merge_method: linear\nmodels:\n  - model: BASE+${adapterFolder}\n    parameters: {weight: 1}\ndtype: float32\n`,
      ),
      outputDir: out,
    });
    const applied = join(root, 'plus-lora-applied');
    applyLoraAdapter({ base: folders.base!, adapter: adapterFolder, outputDir: applied });
    const merged = read(out);
    const reference = read(applied);
    expect(merged.get(`${module}.weight`)!).toBeAllClose(reference.get(`${module}.weight`)!, {
      rtol: 1e-6,
      atol: 1e-7,
    });
    expect(merged.get(`${module}.weight`)!).not.toBeAllClose(base.tensors.get(`${module}.weight`)!, {
      rtol: 1e-3,
      atol: 1e-4,
    });
  });

  it('dare_ties is reproducible from random_seed', () => {
    const config = (seed: number) =>
      yaml(`
merge_method: dare_ties
base_model: BASE
models:
  - model: MODEL_A
    parameters: { weight: 0.5, density: 0.5 }
  - model: MODEL_B
    parameters: { weight: 0.5, density: 0.5 }
random_seed: ${seed}
`);
    mergeModels({ config: config(1), outputDir: join(root, 'dare-1') });
    mergeModels({ config: config(1), outputDir: join(root, 'dare-1b') });
    mergeModels({ config: config(2), outputDir: join(root, 'dare-2') });
    const bytes = (name: string) => readFileSync(join(root, name, 'model.safetensors'));
    expect(bytes('dare-1').equals(bytes('dare-1b'))).toBe(true);
    expect(bytes('dare-1').equals(bytes('dare-2'))).toBe(false);
  });

  it('never drops a tensor silently: missing and unmatched tensors are typed errors unless the config says otherwise', () => {
    const missing = writeStoriesFolder(join(root, 'missing'), tunedA, {
      omit: ['model.layers.1.mlp.up_proj.weight'],
    });
    const extra = writeStoriesFolder(join(root, 'extra'), tunedB, {
      extra: new Map([['vision_tower.proj.weight', new Float32Array(8)]]),
    });
    const config = (other: string, unmatched = '') => `
merge_method: task_arithmetic
base_model: ${folders.base}
models:
  - model: ${other}
    parameters: { weight: 1 }
${unmatched}`;
    const error = (() => {
      try {
        mergeModels({ config: config(missing), outputDir: join(root, 'never-1') });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MissingTensorError);
    expect((error as MissingTensorError).tensor).toBe('model.layers.1.mlp.up_proj.weight');
    expect((error as MissingTensorError).model).toBe(missing);
    expect(() => mergeModels({ config: config(extra), outputDir: join(root, 'never-2') })).toThrow(
      UnmatchedTensorError,
    );
    expect(() => mergeModels({ config: config(extra), outputDir: join(root, 'never-2') })).toThrow(
      /vision_tower\.proj\.weight/,
    );
    const dropped = mergeModels({
      config: config(extra, 'unmatched: drop'),
      outputDir: join(root, 'never-3'),
    });
    expect(dropped.dropped).toEqual(['vision_tower.proj.weight']);
    const copied = mergeModels({
      config: config(missing, 'unmatched: copy_base'),
      outputDir: join(root, 'never-4'),
    });
    expect(copied.copied).toBe(1);
    expect(existsSync(join(root, 'never-1'))).toBe(false);
  });

  it('embeddings with different vocabulary sizes: the common rows (linear) or the base’s rows (ties)', () => {
    const name = 'model.embed_tokens.weight';
    const [rows, cols] = base.shapes.get(name)! as [number, number];
    const extraRows = new Float32Array((rows + 8) * cols);
    extraRows.set(tunedB.tensors.get(name)!);
    extraRows.fill(0.25, rows * cols);
    const shapes = new Map(base.shapes);
    shapes.set(name, [rows + 8, cols]);
    const wider = writeStoriesFolder(
      join(root, 'wider-vocab'),
      { ...tunedB, tensors: new Map(tunedB.tensors).set(name, extraRows), shapes },
      { config: { vocab_size: rows + 8 } },
    );
    const linearOut = join(root, 'vocab-linear');
    const result = mergeModels({
      config: `merge_method: linear\nmodels:\n  - model: ${wider}\n    parameters: {weight: 1}\n  - model: ${folders.base}\n    parameters: {weight: 1}\ndtype: float32\n`,
      outputDir: linearOut,
    });
    expect(result.warnings.join()).toMatch(/vocabulary sizes differ/);
    const merged = read(linearOut).get(name)!;
    expect(merged.length).toBe(rows * cols);
    expect(merged).toBeAllClose(
      Array.from(base.tensors.get(name)!, (v, k) => (v + extraRows[k]!) / 2),
      { rtol: 1e-5, atol: 1e-6 },
    );
    expect(JSON.parse(readFileSync(join(linearOut, 'config.json'), 'utf8')).vocab_size).toBe(rows);
    const tiesOut = join(root, 'vocab-ties');
    mergeModels({
      config: `merge_method: task_arithmetic\nbase_model: ${folders.base}\nmodels:\n  - model: ${wider}\n    parameters: {weight: 1}\n`,
      outputDir: tiesOut,
    });
    expect(read(tiesOut).get(name)!.length).toBe(rows * cols);
    // a base with the larger vocabulary cannot be cut down to the smaller models
    expect(() =>
      mergeModels({
        config: `merge_method: task_arithmetic\nbase_model: ${wider}\nmodels:\n  - model: ${folders.base}\n    parameters: {weight: 1}\n`,
        outputDir: join(root, 'vocab-bad'),
      }),
    ).toThrow(TensorShapeMismatchError);
  });

  it('shape and architecture mismatches name the tensor and model', () => {
    const wide = new Map(base.shapes);
    wide.set('model.norm.weight', [base.shapes.get('model.norm.weight')![0]! * 2]);
    const tensors = new Map(tunedA.tensors);
    tensors.set('model.norm.weight', new Float32Array(wide.get('model.norm.weight')![0]!));
    const misshapen = writeStoriesFolder(join(root, 'misshapen'), { ...tunedA, tensors, shapes: wide });
    const other = writeStoriesFolder(join(root, 'mistral'), tunedA, {
      config: { architectures: ['MistralForCausalLM'] },
    });
    const config = (m: string) =>
      `merge_method: linear\nmodels:\n  - model: ${folders.base}\n    parameters: {weight: 1}\n  - model: ${m}\n    parameters: {weight: 1}\n`;
    expect(() => mergeModels({ config: config(misshapen), outputDir: join(root, 'bad-1') })).toThrow(
      TensorShapeMismatchError,
    );
    expect(() => mergeModels({ config: config(misshapen), outputDir: join(root, 'bad-1') })).toThrow(
      /model\.norm\.weight.*misshapen/,
    );
    expect(() => mergeModels({ config: config(other), outputDir: join(root, 'bad-2') })).toThrow(
      ArchitectureMismatchError,
    );
  });

  it('a merge failing mid-way leaves neither OUT_DIR nor a staging folder', () => {
    const out = join(root, 'failing-out');
    const config = yaml(`
merge_method: della
base_model: BASE
models:
  - model: MODEL_A
    parameters:
      weight: 1
      density:
        - filter: layers.3.
          value: 0.1
        - value: 0.5
      epsilon: 0.2
`);
    expect(() => mergeModels({ config, outputDir: out })).toThrow(/della needs/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((name) => name.includes('meld-tmp'))).toEqual([]);
  });

  it('config errors point at the YAML path and line', () => {
    const config = yaml(`merge_method: ties
base_model: BASE
models:
  - model: MODEL_A
    parameters:
      weight: 1
      densty: 0.5
`);
    let error: unknown;
    try {
      mergeModels({ config, configPath: 'ties.yml', outputDir: join(root, 'never') });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MergeConfigError);
    expect((error as MergeConfigError).line).toBe(7);
    expect((error as MergeConfigError).path).toBe('models[0].parameters.densty');
    expect(String((error as Error).message)).toMatch(/ties\.yml:7/);
  });
});
