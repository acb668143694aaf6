// bench:homer memory: one child process per (model, method, input length), so each process's max RSS
// belongs to one run. The engine's accounting (live hidden states + KV + forward buffers) comes from
// homerPrefill's peakBytes; plain attention's from the same formula (plainPrefillBytes).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homerPrefill, plainPrefillBytes } from '@meld/context-merge';
import { createFullCache } from '@meld/kv-cache';
import { loadModel, Model, type ModelConfig, readLlama2cTokenizer } from '@meld/runtime';
import { Tensor } from '@meld/tensor-core';
import { sharedFile } from '@meld/test-utils';
import { splitTail } from './homer-quality';

export type MemoryModel = 'stories260K' | 'deep-synthetic';

export interface MemoryPoint {
  readonly model: MemoryModel;
  readonly method: 'homer' | 'plain';
  readonly tokens: number;
  /** Engine accounting, bytes. */
  readonly engineBytes: number;
  /** Highest RSS sampled during the run minus the RSS just before it (after a GC), bytes. */
  readonly rssBytes: number;
  readonly ms: number;
}

/**
 * A deeper model for the memory curve (weights random; memory does not depend on them): 16 layers,
 * hidden 128, 8 query / 4 KV heads of 16, MLP 256, stories260K's vocabulary and a 512-token context.
 */
export function deepSyntheticModel(): Model {
  const config: ModelConfig = {
    architecture: 'llama',
    hiddenSize: 128,
    intermediateSize: 256,
    numLayers: 16,
    numHeads: 8,
    numKVHeads: 4,
    headDim: 16,
    vocabSize: 512,
    contextLength: 512,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    stopAtBos: true,
  };
  let state = 7;
  const random = (size: number, scale: number) => {
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = (state / 4294967296 - 0.5) * 2 * scale;
    }
    return data;
  };
  const h = config.hiddenSize;
  const f = config.intermediateSize;
  const kv = config.numKVHeads * config.headDim;
  const tensors = new Map<string, Tensor>();
  tensors.set(
    'model.embed_tokens.weight',
    Tensor.fromF32(random(config.vocabSize * h, 0.1), [config.vocabSize, h]),
  );
  tensors.set('model.norm.weight', Tensor.fromF32(new Float32Array(h).fill(1), [h]));
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    tensors.set(`${p}.input_layernorm.weight`, Tensor.fromF32(new Float32Array(h).fill(1), [h]));
    tensors.set(`${p}.post_attention_layernorm.weight`, Tensor.fromF32(new Float32Array(h).fill(1), [h]));
    tensors.set(`${p}.self_attn.q_proj.weight`, Tensor.fromF32(random(h * h, 0.1), [h, h]));
    tensors.set(`${p}.self_attn.k_proj.weight`, Tensor.fromF32(random(kv * h, 0.1), [kv, h]));
    tensors.set(`${p}.self_attn.v_proj.weight`, Tensor.fromF32(random(kv * h, 0.1), [kv, h]));
    tensors.set(`${p}.self_attn.o_proj.weight`, Tensor.fromF32(random(h * h, 0.1), [h, h]));
    tensors.set(`${p}.mlp.gate_proj.weight`, Tensor.fromF32(random(f * h, 0.1), [f, h]));
    tensors.set(`${p}.mlp.up_proj.weight`, Tensor.fromF32(random(f * h, 0.1), [f, h]));
    tensors.set(`${p}.mlp.down_proj.weight`, Tensor.fromF32(random(h * f, 0.1), [h, f]));
  }
  const tokenizer = readLlama2cTokenizer(readFileSync(sharedFile('models/stories260K/tok512.bin')), 512);
  return new Model({ config, tokenizer, format: 'llama2c', tensors, source: 'deep-synthetic' });
}

/** Runs in the child: one measurement, printed as one JSON line. */
export async function memoryChild(
  modelName: MemoryModel,
  method: 'homer' | 'plain',
  length: number,
): Promise<void> {
  const model =
    modelName === 'stories260K'
      ? await loadModel(sharedFile('models/stories260K/stories260K.bin'))
      : deepSyntheticModel();
  const text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8');
  const tokens = model.encode(text.slice(0, length * 6), { addBos: true }).slice(0, length);
  // RSS is sampled inside the run (at each HOMER block end; at each attention call of the plain
  // pass), after a GC, relative to the RSS just before it: the process's lifetime max RSS would be
  // set by model loading instead.
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    if (rss > rssPeak) rssPeak = rss;
  };
  const start = performance.now();
  let engineBytes: number;
  if (method === 'homer') {
    engineBytes = homerPrefill(model, splitTail(model, tokens), { onProgress: sample }).peakBytes;
  } else {
    const config = model.config;
    const cache = createFullCache({
      layers: config.numLayers,
      kvHeads: config.numKVHeads,
      headDim: config.headDim,
    });
    const observer = { specificationVersion: 'v1' as const, queries: 'last' as const, onAttention: sample };
    model.forward(tokens, { cache, observers: [observer] });
    engineBytes = plainPrefillBytes(config, tokens.length);
  }
  sample();
  const ms = performance.now() - start;
  const rssBytes = Math.max(0, rssPeak - rssBefore);
  const point: MemoryPoint = { model: modelName, method, tokens: length, engineBytes, rssBytes, ms };
  process.stdout.write(`${JSON.stringify(point)}\n`);
}

export function measureInChild(
  script: string,
  model: MemoryModel,
  method: 'homer' | 'plain',
  length: number,
): MemoryPoint {
  const output = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      script,
      '--memory-child',
      String(length),
      '--memory-model',
      model,
      '--memory-method',
      method,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(output.trim().split('\n').at(-1)!) as MemoryPoint;
}

/** Least-squares fits of y against log2(x) and against x, with R². */
export function fitGrowth(xs: readonly number[], ys: readonly number[]) {
  const leastSquares = (us: number[]) => {
    const n = us.length;
    const mu = us.reduce((a, b) => a + b, 0) / n;
    const my = ys.reduce((a, b) => a + b, 0) / n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (us[i]! - mu) * (ys[i]! - my);
      sxx += (us[i]! - mu) ** 2;
      syy += (ys[i]! - my) ** 2;
    }
    const slope = sxx > 0 ? sxy / sxx : 0;
    const r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1;
    return { slope, intercept: my - slope * mu, r2 };
  };
  return { perDoubling: leastSquares(xs.map((x) => Math.log2(x))), perToken: leastSquares([...xs]) };
}
