import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLlama2c, loadLoraAdapter, type Model } from '@meld/runtime';
import { openSafetensors, readPeftAdapter } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { stories260kFiles } from '../__fixtures__/stories260k';
import { textRecords, tinyStories, tinystoriesFile } from '../__fixtures__/tinystories';
import { Tape } from '../autodiff/tape';
import { encodeSegments } from '../data/encode';
import { packExamples } from '../data/packing';
import { plainTemplate } from '../data/templates';
import { baseWeightsFromModel } from '../model/from-runtime';
import type { BaseWeights } from '../model/llama-config';
import { trainingTokenizerFromModel } from '../model/tokenizer-from-runtime';
import { FrozenModel, trainForward } from '../model/train-forward';
import { latestCheckpoint } from './checkpoint';
import { evaluateRows } from './evaluate';
import { type FinetuneProgressEvent, finetune } from './trainer';

describeWithShared('finetune on stories260K', [...stories260kFiles, tinystoriesFile], () => {
  let model: Model;
  let base: BaseWeights;
  const records = textRecords(tinyStories(12));
  const common = {
    lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
    seqLen: 48,
    batchSize: 2,
    gradientAccumulation: 2,
    learningRate: 1e-2,
    warmupSteps: 1,
    baseModel: 'stories260K',
  };

  beforeAll(async () => {
    model = await loadLlama2c(
      sharedFile('models/stories260K/stories260K.bin'),
      sharedFile('models/stories260K/tok512.bin'),
    );
    base = baseWeightsFromModel(model);
  });

  it("training forward's logits equal runtime's on the base model", () => {
    const tokens = model.encode(tinyStories(1)[0]).slice(0, 80);
    const expected = model.forward(tokens, { logits: 'all' });
    const actual = trainForward(new Tape(false), new FrozenModel(base), {
      batch: 1,
      seqLen: tokens.length,
      inputIds: Int32Array.from(tokens),
    });
    expect(actual.data).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-4 });
  });

  it('writes a PEFT adapter that runtime loads and that changes logits as the training forward predicts', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'meld-finetune-'));
    const events: FinetuneProgressEvent[] = [];
    const result = await finetune({
      base,
      tokenizer: trainingTokenizerFromModel(model),
      records,
      options: { ...common, outputDir, maxSteps: 6 },
      onProgress: (e) => events.push(e),
    });
    expect(result.steps).toBe(6);
    const steps = events.filter((e) => e.type === 'step-end');
    expect(steps).toHaveLength(6);
    // The loss on the training data, evaluated without dropout, goes down.
    const rows = packExamples(
      records.map((r) => encodeSegments(plainTemplate.render(r), trainingTokenizerFromModel(model))),
      { seqLen: 48 },
    );
    const frozen = new FrozenModel(base);
    expect(evaluateRows(frozen, rows, { lora: result.lora }).loss).toBeLessThan(
      evaluateRows(frozen, rows).loss - 0.05,
    );
    expect(readFileSync(result.lossCurvePath, 'utf8')).toContain('<svg');

    // adapter_config.json: PEFT's fields, against a file written from PEFT's LoraConfig.
    const written = JSON.parse(readFileSync(join(outputDir, 'adapter_config.json'), 'utf8'));
    const expectedConfig = JSON.parse(
      readFileSync(new URL('../__fixtures__/expected-adapter-config.json', import.meta.url), 'utf8'),
    );
    for (const [key, value] of Object.entries(expectedConfig))
      expect([key, written[key]]).toEqual([key, value]);
    // adapter_model.safetensors: PEFT key names, dtypes and shapes, against a list built from PEFT's naming.
    const expectedTensors = JSON.parse(
      readFileSync(new URL('../__fixtures__/expected-adapter-tensors.json', import.meta.url), 'utf8'),
    );
    const file = openSafetensors(join(outputDir, 'adapter_model.safetensors'));
    const header = Object.fromEntries(
      [...file.names]
        .sort()
        .map((name) => [name, { dtype: file.info(name).dtype, shape: [...file.info(name).shape] }]),
    );
    file.close();
    expect(header).toEqual(expectedTensors);
    const peft = readPeftAdapter(outputDir);
    expect(peft.modules.get('model.layers.2.mlp.down_proj')?.a.shape).toEqual([4, 172]);
    expect(peft.modules.get('model.layers.2.mlp.down_proj')?.b.shape).toEqual([64, 4]);

    // Runtime's logits with the adapter = the training forward's with the trained factors.
    const adapter = loadLoraAdapter(outputDir, 'trained');
    const tokens = model.encode('Once upon a time, there was a dog named Max.');
    const baseLogits = model.forward(tokens, { logits: 'all' });
    const adapted = model.forward(tokens, { logits: 'all', adapters: [{ adapter, weight: 1 }] });
    const predicted = trainForward(
      new Tape(false),
      new FrozenModel(base),
      { batch: 1, seqLen: tokens.length, inputIds: Int32Array.from(tokens) },
      { lora: result.lora },
    );
    expect(predicted.data).toBeAllClose(adapted, { rtol: 1e-4, atol: 1e-4 });
    let maxChange = 0;
    for (let i = 0; i < adapted.length; i++)
      maxChange = Math.max(maxChange, Math.abs(adapted[i] - baseLogits[i]));
    expect(maxChange).toBeGreaterThan(1e-2);
  });

  it('rsLoRA: runtime scales by alpha/sqrt(r) as the training forward does', async () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'meld-finetune-rslora-'));
    const result = await finetune({
      base,
      tokenizer: trainingTokenizerFromModel(model),
      records,
      options: { ...common, lora: { ...common.lora, useRslora: true }, outputDir, maxSteps: 2 },
    });
    expect(result.lora.scaling).toBeCloseTo(8 / 2, 12);
    expect(JSON.parse(readFileSync(join(outputDir, 'adapter_config.json'), 'utf8')).use_rslora).toBe(true);
    const adapter = loadLoraAdapter(outputDir, 'rslora');
    const tokens = model.encode('Once upon a time, there was a big red ball.');
    const adapted = model.forward(tokens, { logits: 'all', adapters: [{ adapter, weight: 1 }] });
    const predicted = trainForward(
      new Tape(false),
      new FrozenModel(base),
      { batch: 1, seqLen: tokens.length, inputIds: Int32Array.from(tokens) },
      { lora: result.lora },
    );
    expect(predicted.data).toBeAllClose(adapted, { rtol: 1e-4, atol: 1e-4 });
  });

  it('resumes after a kill from the latest checkpoint and ends exactly where an uninterrupted run does', async () => {
    const tokenizer = trainingTokenizerFromModel(model);
    const straightDir = mkdtempSync(join(tmpdir(), 'meld-finetune-straight-'));
    const straight = await finetune({
      base,
      tokenizer,
      records,
      options: { ...common, outputDir: straightDir, maxSteps: 5 },
    });

    const killedDir = mkdtempSync(join(tmpdir(), 'meld-finetune-killed-'));
    const killed = finetune({
      base,
      tokenizer,
      records,
      options: { ...common, outputDir: killedDir, maxSteps: 5, saveEvery: 2 },
      onProgress: (e) => {
        if (e.type === 'step-end' && e.step === 3) throw new Error('killed');
      },
    });
    await expect(killed).rejects.toThrow('killed');
    expect(latestCheckpoint(killedDir)).toBe(join(killedDir, 'checkpoint-2'));
    const state = JSON.parse(readFileSync(join(killedDir, 'checkpoint-2', 'trainer_state.json'), 'utf8'));
    expect(state.globalStep).toBe(2);
    expect(state.sequencesSeen).toBe(8);

    const resumedEvents: FinetuneProgressEvent[] = [];
    const resumed = await finetune({
      base,
      tokenizer,
      records,
      options: { ...common, outputDir: killedDir, maxSteps: 5, saveEvery: 2, resume: true },
      onProgress: (e) => resumedEvents.push(e),
    });
    expect(resumedEvents.find((e) => e.type === 'resumed')).toMatchObject({ step: 2 });
    expect(resumed.steps).toBe(5);
    expect(resumed.lossHistory.map((h) => h.loss)).toEqual(straight.lossHistory.map((h) => h.loss));
    for (const [name, module] of straight.lora.modules) {
      const other = resumed.lora.modules.get(name);
      expect(Array.from(other?.a.data ?? [])).toEqual(Array.from(module.a.data));
      expect(Array.from(other?.b.data ?? [])).toEqual(Array.from(module.b.data));
    }
  });

  it('gradient accumulation of 2×2 equals one micro-batch of 4 (no dropout)', async () => {
    const tokenizer = trainingTokenizerFromModel(model);
    const lora = { ...common.lora, dropout: 0 };
    const a = await finetune({
      base,
      tokenizer,
      records,
      options: { ...common, lora, outputDir: mkdtempSync(join(tmpdir(), 'meld-ga-')), maxSteps: 2 },
    });
    const b = await finetune({
      base,
      tokenizer,
      records,
      options: {
        ...common,
        lora,
        batchSize: 4,
        gradientAccumulation: 1,
        outputDir: mkdtempSync(join(tmpdir(), 'meld-ga-')),
        maxSteps: 2,
      },
    });
    for (const [name, module] of a.lora.modules) {
      expect(Array.from(b.lora.modules.get(name)?.b.data ?? [])).toBeAllClose(Array.from(module.b.data), {
        rtol: 1e-4,
        atol: 1e-6,
      });
    }
  });
});
