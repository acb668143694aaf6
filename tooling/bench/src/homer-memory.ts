// bench:homer memory: one child process per (model, method, input length), so each process's max RSS
// belongs to one run. The engine's accounting (live hidden states + KV + forward buffers) comes from
// homerPrefill's peakBytes; plain attention's from the same formula (plainPrefillBytes).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homerPrefill, plainPrefillBytes } from '@meld/context-merge';
import { createFullCache } from '@meld/kv-cache';
import { loadModel, type Model } from '@meld/runtime';
import { sharedFile } from '@meld/test-utils';
import { splitTail } from './homer-quality';
import { syntheticLlama } from './synthetic-llama';

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
  return syntheticLlama(
    {
      hiddenSize: 128,
      intermediateSize: 256,
      numLayers: 16,
      numHeads: 8,
      numKVHeads: 4,
      headDim: 16,
      vocabSize: 512,
      contextLength: 512,
    },
    { seed: 7, embeddingScale: 0.1, weightScale: 0.1, stopAtBos: true, name: 'deep-synthetic' },
  );
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
