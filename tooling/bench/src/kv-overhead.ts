// Compression overhead where it matters: a synthetic Llama of ~110M parameters with bench-runtime's
// shape (12 layers, hidden 768, 12 query / 4 KV heads of 64, MLP 1536, vocab 32000; random f32
// weights, built in memory) decoding at 2K-4K context with a 35% cache.
// The cache is filled with C random tokens (content does not change the time of a decode step),
// compressed once, then S decode steps are timed. Overhead = compression time / decode time.
import { type CompressedKVCache, createFullCache, type KVCacheV1, resolveKVOptions } from '@meld/kv-cache';
import type { Model } from '@meld/runtime';
import { syntheticLlama } from './synthetic-llama';

const POLICIES = ['streaming_llm', 'h2o', 'tova', 'snapkv', 'cam', 'kvmerger', 'merge_on_evict'];

export function syntheticModel(contextLength: number): Model {
  return syntheticLlama(
    {
      hiddenSize: 768,
      intermediateSize: 1536,
      numLayers: 12,
      numHeads: 12,
      numKVHeads: 4,
      headDim: 64,
      vocabSize: 32000,
      contextLength,
    },
    { seed: 99, embeddingScale: 0.02, weightScale: 0.05, stopAtBos: false, name: 'synthetic-110M' },
  );
}

/** Append `count` random tokens per layer and one random softmax row per query head (statistics). */
function fill(cache: KVCacheV1, model: Model, count: number): void {
  const { numLayers, numKVHeads, numHeads, headDim } = model.config;
  let state = 7;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const width = numKVHeads * headDim;
  const positions = Int32Array.from({ length: count }, (_, i) => i);
  const group = numHeads / numKVHeads;
  for (let layer = 0; layer < numLayers; layer++) {
    const keys = new Float32Array(count * width);
    const values = new Float32Array(count * width);
    for (let i = 0; i < keys.length; i++) {
      keys[i] = next() * 2 - 1;
      values[i] = next() * 2 - 1;
    }
    cache.append(layer, keys, values, positions);
    for (let kvHead = 0; kvHead < numKVHeads; kvHead++) {
      for (let g = 0; g < group; g++) {
        const weights = new Float32Array(count);
        let total = 0;
        for (let i = 0; i < count; i++) {
          weights[i] = Math.exp(next() * 4);
          total += weights[i] as number;
        }
        for (let i = 0; i < count; i++) weights[i] = (weights[i] as number) / total;
        cache.observeAttention?.(layer, kvHead, kvHead * group + g, weights, 1);
      }
    }
  }
}

interface Measurement {
  context: number;
  policy: string;
  compressEvery: number;
  decodeMsPerToken: number;
  tokensPerSecond: number;
  compressMsPerToken: number;
  overheadPercent: number;
  slots: number;
}

export async function runKVOverhead(options: {
  contexts: readonly number[];
  steps: number;
  everyRecommended?: number;
  log: (line: string) => void;
}) {
  const recommended = options.everyRecommended ?? 16;
  const measurements: Measurement[] = [];
  const maxContext = Math.max(...options.contexts);
  const model = syntheticModel(maxContext + options.steps + 8);
  const shape = {
    layers: model.config.numLayers,
    kvHeads: model.config.numKVHeads,
    headDim: model.config.headDim,
  };
  for (const context of options.contexts) {
    // Every configuration decodes the same steps round-robin, so load from other processes on this
    // shared machine falls on all of them alike.
    const configurations: { policy: string; compressEvery: number; cache: KVCacheV1; elapsed: number }[] = [];
    const full = createFullCache(shape);
    fill(full, model, context);
    configurations.push({ policy: 'full', compressEvery: 0, cache: full, elapsed: 0 });
    for (const policy of POLICIES) {
      for (const every of [1, recommended]) {
        const cache = resolveKVOptions({ policy, budget: '35%', compressEvery: every }).createCache(shape);
        fill(cache, model, context);
        (cache as CompressedKVCache).compress();
        configurations.push({ policy, compressEvery: every, cache, elapsed: 0 });
      }
    }
    // one warm-up step each (it is decode step 1, which compresses), then the timed steps
    for (const configuration of configurations)
      model.forward([5], { cache: configuration.cache, startPosition: context });
    const compressedBefore = configurations.map(
      (c) => (c.cache as Partial<CompressedKVCache>).stats?.().milliseconds ?? 0,
    );
    for (let s = 1; s <= options.steps; s++) {
      for (const configuration of configurations) {
        const started = performance.now();
        model.forward([5 + s], { cache: configuration.cache, startPosition: context + s });
        configuration.elapsed += performance.now() - started;
      }
      if (s % 8 === 0) options.log(`kv overhead: context ${context}, step ${s}/${options.steps}`);
    }
    configurations.forEach((configuration, index) => {
      const compress =
        ((configuration.cache as Partial<CompressedKVCache>).stats?.().milliseconds ?? 0) -
        (compressedBefore[index] ?? 0);
      measurements.push({
        context,
        policy: configuration.policy,
        compressEvery: configuration.compressEvery,
        decodeMsPerToken: configuration.elapsed / options.steps,
        tokensPerSecond: (1000 * options.steps) / configuration.elapsed,
        compressMsPerToken: compress / options.steps,
        overheadPercent: (100 * compress) / configuration.elapsed,
        slots: configuration.cache.length(0),
      });
    });
  }
  const lines = [
    `Synthetic Llama ~110M (bench-runtime's shape: 12 x 768, 12 query / 4 KV heads of 64, MLP 1536, vocab 32000, f32, random weights), cache filled to the context with random K/V, compressed to 35%, then ${options.steps} decode steps per row, all rows round-robin step by step (after one warm-up step each). Compression % = time inside the policy / decode time.`,
    '',
    '| context | policy | compress every n | decode ms/token | tokens/s | compression ms/token | compression % of decode | slots/head |',
    '|---|---|---|---|---|---|---|---|',
    ...measurements.map(
      (m) =>
        `| ${m.context} | ${m.policy} | ${m.compressEvery || '-'} | ${m.decodeMsPerToken.toFixed(1)} | ${m.tokensPerSecond.toFixed(2)} | ${m.compressMsPerToken.toFixed(3)} | ${m.overheadPercent.toFixed(2)} | ${m.slots} |`,
    ),
    '',
  ];
  return {
    markdown: lines.join('\n'),
    json: { model: 'synthetic-llama-110M', steps: options.steps, recommended, measurements },
  };
}
