// Quality of each KV policy against the full cache on stories260K: prompts of 256-448 tokens of
// concatenated TinyStories, compressed after prefill, then 64 teacher-forced tokens scored.
import {
  type CompressedKVCache,
  createFullCache,
  findMergingSets,
  formatKVBudget,
  type KVBudget,
  type KVCacheV1,
  resolveKVOptions,
} from '@meld/kv-cache';
import { loadLlama2c } from '@meld/runtime';
import { sharedFile } from '@meld/test-utils';
import { FanOutKVCache } from './kv-fan-out';
import { compareRows, type Interval, logSoftmaxRows, meanInterval } from './kv-statistics';

export interface KVVariant {
  readonly label: string;
  readonly policy: string;
  readonly params?: Record<string, unknown>;
  /** Budgets to run (all when absent), as formatKVBudget writes them. */
  readonly budgets?: readonly string[];
}

export const defaultVariants: readonly KVVariant[] = [
  { label: 'streaming_llm', policy: 'streaming_llm' },
  { label: 'h2o', policy: 'h2o' },
  { label: 'tova', policy: 'tova' },
  { label: 'snapkv', policy: 'snapkv' },
  { label: 'cam', policy: 'cam' },
  { label: 'cam (selection only, no merge)', policy: 'cam', params: { merge: false } },
  { label: 'cam (h2o selection)', policy: 'cam', params: { selection: 'h2o' } },
  { label: 'kvmerger', policy: 'kvmerger' },
  { label: 'kvmerger (merged slot scored by pivot)', policy: 'kvmerger', params: { mergedScore: 'pivot' } },
  { label: 'kvmerger (centre pivot)', policy: 'kvmerger', params: { pivot: 'center' } },
  { label: 'kvmerger (threshold 0.5)', policy: 'kvmerger', params: { threshold: 0.5 } },
  { label: 'kvmerger (threshold 0.9)', policy: 'kvmerger', params: { threshold: 0.9 } },
  { label: 'kvmerger (threshold 0.99)', policy: 'kvmerger', params: { threshold: 0.99 } },
  { label: 'kvmerger (no merging: eviction only)', policy: 'kvmerger', params: { layers: [] } },
  { label: 'merge_on_evict', policy: 'merge_on_evict' },
  // which layers: merging in one layer only (the others evict as kvmerger's fallback does), 35% only
  ...[0, 1, 2, 3, 4].map((layer) => ({
    label: `kvmerger (merge in layer ${layer} only)`,
    policy: 'kvmerger',
    params: { layers: [layer] },
    budgets: ['35%'],
  })),
];

export const budgets: readonly KVBudget[] = [
  { type: 'ratio', ratio: 0.5 },
  { type: 'ratio', ratio: 0.35 },
];

const CONTINUATION = 64;
const SEED = 1234;

interface Row {
  label: string;
  policy: string;
  budget: string;
  pplIncreasePercent: Interval;
  kl: Interval;
  top1Percent: Interval;
  kvBytes: number;
  kvBytesPercentOfFull: number;
  compressMillisecondsPerPrompt: number;
  perSample: { nllIncrease: number[]; kl: number[]; top1: number[] };
}

export async function runKVQuality(options: {
  samples: number;
  text: string;
  variants?: readonly KVVariant[];
  log: (line: string) => void;
}) {
  const variants = options.variants ?? defaultVariants;
  const model = await loadLlama2c(
    sharedFile('models/stories260K/stories260K.bin'),
    sharedFile('models/stories260K/tok512.bin'),
  );
  const shape = {
    layers: model.config.numLayers,
    kvHeads: model.config.numKVHeads,
    headDim: model.config.headDim,
  };
  const vocab = model.config.vocabSize;
  const stream = model.encode(options.text, { addBos: false });
  const bos = model.config.bosTokenId ?? 1;
  // fixed-seed prompt lengths in [256, 448]; consecutive, non-overlapping windows of the stream
  let state = SEED;
  const nextLength = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 256 + (state % 193);
  };
  const samples: { prompt: number[]; continuation: number[] }[] = [];
  let offset = 0;
  while (samples.length < options.samples) {
    const length = nextLength();
    const end = offset + length - 1 + CONTINUATION + 1;
    if (end > stream.length) break;
    samples.push({
      prompt: [bos, ...stream.slice(offset, offset + length - 1)],
      continuation: stream.slice(offset + length - 1, end),
    });
    offset = end;
  }
  options.log(
    `kv quality: ${samples.length} prompts (${samples.reduce((a, s) => a + s.prompt.length, 0)} prompt tokens)`,
  );

  const configs = budgets.flatMap((budget) =>
    variants
      .filter((variant) => variant.budgets === undefined || variant.budgets.includes(formatKVBudget(budget)))
      .map((variant) => ({
        variant,
        budget,
        resolved: resolveKVOptions({
          policy: variant.policy,
          budget,
          ...(variant.params ? { params: variant.params } : {}),
        }),
      })),
  );
  const results = configs.map(() => ({
    nllIncrease: [] as number[],
    kl: [] as number[],
    top1: [] as number[],
    bytes: [] as number[],
    fullBytes: [] as number[],
    milliseconds: 0,
  }));
  // Diagnostic for KVMerger: per layer, how similar adjacent keys are and how much of the cache the
  // threshold-0.75 merging sets cover (prompt keys of the full cache).
  const layerSimilarity = Array.from({ length: shape.layers }, () => ({
    cosine: 0,
    covered: 0,
    sets: 0,
    setSlots: 0,
    slots: 0,
  }));
  const started = performance.now();
  samples.forEach((sample, index) => {
    const full = createFullCache(shape);
    const caches = configs.map((config) => config.resolved.createCache(shape) as CompressedKVCache);
    model.forward(sample.prompt, { cache: new FanOutKVCache([full, ...caches]), startPosition: 0 });
    const fed = sample.continuation.slice(0, CONTINUATION);
    const targets = sample.continuation.slice(1, CONTINUATION + 1);
    const score = (cache: KVCacheV1) =>
      logSoftmaxRows(
        model.forward(fed, { cache, startPosition: sample.prompt.length, logits: 'all' }),
        CONTINUATION,
        vocab,
      );
    const fullBytes = full.bytes();
    for (let layer = 0; layer < shape.layers; layer++) {
      const entry = layerSimilarity[layer];
      if (entry === undefined) continue;
      for (let h = 0; h < shape.kvHeads; h++) {
        const store = full.store(layer, h);
        for (let i = 1; i < store.length; i++) entry.cosine += cosine(store.key(i - 1), store.key(i));
        entry.slots += store.length - 1;
        for (const set of findMergingSets(store, 0, store.length, 0.75)) {
          entry.sets++;
          entry.setSlots += set.end - set.start;
        }
      }
    }
    const reference = score(full);
    caches.forEach((cache, c) => {
      const result = results[c];
      if (result === undefined) return;
      cache.compress();
      result.milliseconds += cache.stats().milliseconds;
      result.bytes.push(cache.bytes());
      result.fullBytes.push(fullBytes);
      const comparison = compareRows(reference, score(cache), targets, vocab);
      result.nllIncrease.push(comparison.nllIncrease);
      result.kl.push(comparison.kl);
      result.top1.push(comparison.top1);
    });
    if ((index + 1) % 20 === 0) {
      options.log(
        `  ${index + 1}/${samples.length} prompts, ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  });

  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const percent = (interval: Interval, transform: (x: number) => number): Interval => ({
    mean: transform(interval.mean),
    low: transform(interval.low),
    high: transform(interval.high),
  });
  const rows: Row[] = configs.map((config, c) => {
    const result = results[c] as (typeof results)[number];
    return {
      label: config.variant.label,
      policy: config.variant.policy,
      budget: formatKVBudget(config.budget),
      pplIncreasePercent: percent(meanInterval(result.nllIncrease), (x) => (Math.exp(x) - 1) * 100),
      kl: meanInterval(result.kl),
      top1Percent: percent(meanInterval(result.top1), (x) => x * 100),
      kvBytes: Math.round(mean(result.bytes)),
      kvBytesPercentOfFull: (100 * mean(result.bytes)) / mean(result.fullBytes),
      compressMillisecondsPerPrompt: result.milliseconds / samples.length,
      perSample: { nllIncrease: result.nllIncrease, kl: result.kl, top1: result.top1 },
    };
  });

  // paired differences for the papers' ordering KVMerger >= CaM >= H2O >= StreamingLLM (by KL, lower is better)
  const pairs: [string, string][] = [
    ['kvmerger', 'cam'],
    ['cam', 'h2o'],
    ['h2o', 'streaming_llm'],
    ['kvmerger', 'h2o'],
  ];
  const ordering = budgets.flatMap((budget) =>
    pairs.map(([better, worse]) => {
      const a = rows.find((r) => r.label === better && r.budget === formatKVBudget(budget));
      const b = rows.find((r) => r.label === worse && r.budget === formatKVBudget(budget));
      const differences = (a?.perSample.kl ?? []).map((x, i) => x - (b?.perSample.kl[i] ?? 0));
      return { budget: formatKVBudget(budget), better, worse, klDifference: meanInterval(differences) };
    }),
  );

  const fullBytes = Math.round(mean(results[0]?.fullBytes ?? [0]));
  const format = (interval: Interval, digits: number) =>
    `${interval.mean.toFixed(digits)} [${interval.low.toFixed(digits)}, ${interval.high.toFixed(digits)}]`;
  const lines = [
    `stories260K, ${samples.length} prompts of 256-448 tokens (TinyStories validation, concatenated), compressed after prefill, then ${CONTINUATION} teacher-forced tokens scored against the full cache (mean KV ${fullBytes} bytes). Means with 95% CIs over prompts; seed ${SEED}.`,
    '',
    '| policy | budget | perplexity increase % | KL(full ‖ policy) nats | top-1 agreement % | KV bytes after compressing the prompt (% of full) | compress ms/prompt |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${row.budget} | ${format(row.pplIncreasePercent, 2)} | ${format(row.kl, 4)} | ${format(row.top1Percent, 1)} | ${row.kvBytes} (${row.kvBytesPercentOfFull.toFixed(1)}%) | ${row.compressMillisecondsPerPrompt.toFixed(2)} |`,
    ),
    '',
    'Paired KL differences (first minus second; negative = the first is closer to the full cache):',
    '',
    '| budget | first | second | ΔKL nats [95% CI] |',
    '|---|---|---|---|',
    ...ordering.map((o) => `| ${o.budget} | ${o.better} | ${o.worse} | ${format(o.klDifference, 4)} |`),
    '',
    'KVMerger diagnostic, prompt keys of the full cache: per layer, mean cosine of adjacent keys, share of slots inside threshold-0.75 merging sets, mean set length.',
    '',
    '| layer | mean adjacent cosine | slots in sets % | mean set length |',
    '|---|---|---|---|',
    ...layerSimilarity.map(
      (entry, layer) =>
        `| ${layer} | ${(entry.cosine / entry.slots).toFixed(3)} | ${((100 * entry.setSlots) / entry.slots).toFixed(1)} | ${(entry.setSlots / Math.max(1, entry.sets)).toFixed(1)} |`,
    ),
    '',
  ];
  return {
    markdown: lines.join('\n'),
    json: {
      model: 'stories260K',
      samples: samples.length,
      continuation: CONTINUATION,
      seed: SEED,
      fullBytes,
      rows: rows.map(({ perSample, ...rest }) => rest),
      ordering,
      layerSimilarity: layerSimilarity.map((entry) => ({
        meanAdjacentCosine: entry.cosine / entry.slots,
        slotsInSetsPercent: (100 * entry.setSlots) / entry.slots,
        meanSetLength: entry.setSlots / Math.max(1, entry.sets),
      })),
      seconds: (performance.now() - started) / 1000,
    },
  };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let c = 0; c < a.length; c++) {
    dot += (a[c] as number) * (b[c] as number);
    na += (a[c] as number) ** 2;
    nb += (b[c] as number) ** 2;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
