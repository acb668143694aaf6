// pnpm bench:runtime — @meld/runtime against llama.cpp (node-llama-cpp 3.21.1, threads: 1) on the
// same GGUF files: stories260K.gguf and a synthetic ~110M Llama (dim 768, 12 layers, GQA 12/4 heads,
// 32K vocab, random weights written by our GGUF writer) in f32 and q8_0. Each (engine, model) runs in
// its own child process so peak RSS is its own. Prints a markdown table and writes JSON.
//
//   node dist/bench-runtime.js [--decode N] [--prefill N] [--repeat N] [--json FILE] [--only stories|f32|q8_0]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel } from '@meld/runtime';
import { type GgufTensorEntry, type GgufValue, Tensor, writeGguf } from '@meld/tensor-core';
import { sharedFile } from '@meld/test-utils';
import { benchArgs } from './bench-args';

interface Measurement {
  engine: 'meld' | 'llama.cpp';
  model: string;
  loadMs: number;
  prefillTokens: number;
  prefillTokensPerSecond: number;
  decodeTokens: number;
  decodeTokensPerSecond: number;
  peakRssMb: number;
}

const here = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// The synthetic model: written once into the temp folder, reused by later runs.

const synthetic = { dim: 768, layers: 12, heads: 12, kvHeads: 4, ffn: 1536, vocab: 32000, context: 2048 };

/** xorshift32: fast, deterministic uniforms in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

function gaussian(count: number, seed: number, std: number): Float32Array {
  const next = random(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

function syntheticVocabulary(size: number): { tokens: string[]; types: number[]; scores: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; tokens.length < size; i++) {
    let word = '';
    for (let n = i; ; n = Math.floor(n / 26) - 1) {
      word = letters[n % 26] + word;
      if (n < 26) break;
    }
    tokens.push(`\u2581${word}`);
    types.push(1);
  }
  return { tokens, types, scores: tokens.map((_, i) => -i) };
}

function writeSyntheticGguf(path: string, type: 'F32' | 'Q8_0'): void {
  const { dim, layers, heads, kvHeads, ffn, vocab, context } = synthetic;
  const headDim = dim / heads;
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const { tokens, types, scores } = syntheticVocabulary(vocab);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'meld-synthetic-110m' }],
    ['general.file_type', u32(type === 'F32' ? 0 : 7)],
    ['llama.context_length', u32(context)],
    ['llama.embedding_length', u32(dim)],
    ['llama.feed_forward_length', u32(ffn)],
    ['llama.block_count', u32(layers)],
    ['llama.attention.head_count', u32(heads)],
    ['llama.attention.head_count_kv', u32(kvHeads)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', elementType: 'f32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'i32', value: types }],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
  ]);
  let seed = 1;
  const matrix = (name: string, rows: number, cols: number): GgufTensorEntry => {
    const s = seed++;
    return {
      name,
      shape: [rows, cols],
      type,
      data: () => Tensor.fromF32(gaussian(rows * cols, s, 0.02), [rows, cols]),
    };
  };
  const norm = (name: string): GgufTensorEntry => ({
    name,
    shape: [dim],
    type: 'F32',
    data: () => Tensor.fromF32(new Float32Array(dim).fill(1)),
  });
  const entries: GgufTensorEntry[] = [
    matrix('token_embd.weight', vocab, dim),
    norm('output_norm.weight'),
    matrix('output.weight', vocab, dim),
  ];
  for (let l = 0; l < layers; l++) {
    entries.push(
      norm(`blk.${l}.attn_norm.weight`),
      matrix(`blk.${l}.attn_q.weight`, dim, dim),
      matrix(`blk.${l}.attn_k.weight`, kvHeads * headDim, dim),
      matrix(`blk.${l}.attn_v.weight`, kvHeads * headDim, dim),
      matrix(`blk.${l}.attn_output.weight`, dim, dim),
      norm(`blk.${l}.ffn_norm.weight`),
      matrix(`blk.${l}.ffn_gate.weight`, ffn, dim),
      matrix(`blk.${l}.ffn_up.weight`, ffn, dim),
      matrix(`blk.${l}.ffn_down.weight`, dim, ffn),
    );
  }
  mkdirSync(dirname(path), { recursive: true });
  writeGguf(path, { metadata, tensors: entries });
}

// ---------------------------------------------------------------------------------------------
// Workers: one engine on one model, in its own process.

function promptTokens(count: number, vocab: number): number[] {
  const next = random(7);
  const tokens = [1];
  while (tokens.length < count) tokens.push(259 + Math.floor(next() * (vocab - 259)));
  return tokens;
}

async function measureMeld(
  path: string,
  prefill: number,
  decode: number,
  vocab: number,
): Promise<Omit<Measurement, 'engine' | 'model' | 'peakRssMb'>> {
  const started = performance.now();
  const model = await loadModel(path, { contextLength: 512 });
  const loadMs = performance.now() - started;
  const prompt = promptTokens(prefill, vocab);
  model.forward(prompt.slice(0, 8)); // warm-up (JIT)
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 2; rep++) {
    const t = performance.now();
    model.forward(prompt);
    best = Math.min(best, performance.now() - t);
  }
  // Warm-up decode (JIT), as the llama.cpp worker warms up too.
  for await (const _event of model.generate([1], { temperature: 0, maxTokens: 17, ignoreEos: true })) {
    // drain
  }
  let decodeMs = 0;
  let generated = 0;
  for await (const event of model.generate([1], { temperature: 0, maxTokens: decode + 1, ignoreEos: true })) {
    if (event.type === 'finish') {
      decodeMs = event.decodeMs;
      generated = event.completionTokens;
    }
  }
  // The first token comes from the prefill; the decode rate counts the forwards after it.
  return {
    loadMs,
    prefillTokens: prompt.length,
    prefillTokensPerSecond: (prompt.length / best) * 1000,
    decodeTokens: generated - 1,
    decodeTokensPerSecond: ((generated - 1) / decodeMs) * 1000,
  };
}

async function measureLlamaCpp(
  path: string,
  prefill: number,
  decode: number,
  vocab: number,
): Promise<Omit<Measurement, 'engine' | 'model' | 'peakRssMb'>> {
  // A computed specifier keeps the bundler from inlining node-llama-cpp (it loads native binaries).
  const specifier = 'node-llama-cpp';
  const { getLlama }: typeof import('node-llama-cpp') = await import(specifier);
  const started = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 512, threads: 1, batchSize: 512 });
  const sequence = context.getSequence();
  const loadMs = performance.now() - started;
  const prompt = promptTokens(prefill, vocab) as never[];
  const clear = () => sequence.eraseContextTokenRanges([{ start: 0, end: sequence.nextTokenIndex }]);
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 8));
  await clear();
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 2; rep++) {
    const t = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    best = Math.min(best, performance.now() - t);
    await clear();
  }
  // Warm-up decode, then the same protocol as meld: the BOS forward yields the first token, then
  // `decode` more forwards.
  let warm = 0;
  for await (const _token of sequence.evaluate([1 as never], { temperature: 0 })) {
    if (++warm > 16) break;
  }
  await clear();
  let generated = 0;
  let firstAt = 0;
  for await (const _token of sequence.evaluate([1 as never], { temperature: 0 })) {
    generated++;
    if (generated === 1) firstAt = performance.now();
    if (generated > decode) break;
  }
  const decodeMs = performance.now() - firstAt;
  await context.dispose();
  await model.dispose();
  return {
    loadMs,
    prefillTokens: prompt.length,
    prefillTokensPerSecond: (prompt.length / best) * 1000,
    decodeTokens: generated - 1,
    decodeTokensPerSecond: ((generated - 1) / decodeMs) * 1000,
  };
}

async function worker(
  engine: string,
  path: string,
  prefill: number,
  decode: number,
  vocab: number,
): Promise<void> {
  const result =
    engine === 'meld'
      ? await measureMeld(path, prefill, decode, vocab)
      : await measureLlamaCpp(path, prefill, decode, vocab);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`\nRESULT ${JSON.stringify({ ...result, peakRssMb })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent: prepare files, run every worker, print the table.

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: benchArgs(),
    options: {
      worker: { type: 'string' },
      model: { type: 'string' },
      decode: { type: 'string', default: '64' },
      prefill: { type: 'string', default: '128' },
      json: { type: 'string' },
      only: { type: 'string' },
      repeat: { type: 'string', default: '2' },
      vocab: { type: 'string', default: '512' },
    },
  });
  const decode = Number(values.decode);
  const prefill = Number(values.prefill);
  if (values.worker && values.model)
    return worker(values.worker, values.model, prefill, decode, Number(values.vocab));

  const folder = join(tmpdir(), 'meld-bench-runtime');
  const models = [
    {
      name: 'stories260K.gguf (f32)',
      key: 'stories',
      vocab: 512,
      path: sharedFile('models/stories260K/stories260K.gguf'),
    },
    {
      name: 'synthetic 110M f32',
      key: 'f32',
      vocab: synthetic.vocab,
      path: join(folder, 'synthetic-110m-f32.gguf'),
    },
    {
      name: 'synthetic 110M q8_0',
      key: 'q8_0',
      vocab: synthetic.vocab,
      path: join(folder, 'synthetic-110m-q8_0.gguf'),
    },
  ].filter((m) => !values.only || values.only === m.key);
  for (const model of models) {
    if (model.key !== 'stories' && !existsSync(model.path)) {
      process.stderr.write(`writing ${model.path}\n`);
      writeSyntheticGguf(model.path, model.key === 'f32' ? 'F32' : 'Q8_0');
    }
  }
  // Engines alternate, `repeat` rounds each; the best round per engine is kept (the machine is shared).
  const results: Measurement[] = [];
  const rounds = Math.max(1, Number(values.repeat));
  for (const model of models) {
    for (let round = 0; round < rounds; round++) {
      for (const engine of ['llama.cpp', 'meld'] as const) {
        process.stderr.write(`${engine} on ${model.name} (round ${round + 1}/${rounds})...\n`);
        const child = spawnSync(
          process.execPath,
          [
            fileURLToPath(import.meta.url),
            '--worker',
            engine,
            '--model',
            model.path,
            '--decode',
            String(decode),
            '--prefill',
            String(prefill),
            '--vocab',
            String(model.vocab),
          ],
          { encoding: 'utf8', maxBuffer: 1 << 26 },
        );
        const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) {
          process.stderr.write(`${engine} on ${model.name} failed:\n${child.stderr}\n`);
          continue;
        }
        const measured: Measurement = { engine, model: model.name, ...JSON.parse(line.slice(7)) };
        const previous = results.findIndex((r) => r.engine === engine && r.model === model.name);
        if (previous < 0) results.push(measured);
        else {
          const best = results[previous] as Measurement;
          results[previous] = {
            ...best,
            prefillTokensPerSecond: Math.max(best.prefillTokensPerSecond, measured.prefillTokensPerSecond),
            decodeTokensPerSecond: Math.max(best.decodeTokensPerSecond, measured.decodeTokensPerSecond),
            peakRssMb: Math.max(best.peakRssMb, measured.peakRssMb),
          };
        }
      }
    }
  }
  const rows = models.map((model) => {
    const ours = results.find((r) => r.model === model.name && r.engine === 'meld');
    const theirs = results.find((r) => r.model === model.name && r.engine === 'llama.cpp');
    const f = (n: number | undefined, digits = 0) => (n === undefined ? 'n/a' : n.toFixed(digits));
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : 'n/a');
    return `| ${model.name} | ${f(ours?.prefillTokensPerSecond)} | ${f(theirs?.prefillTokensPerSecond)} | ${ratio(ours?.prefillTokensPerSecond, theirs?.prefillTokensPerSecond)} | ${f(ours?.decodeTokensPerSecond, 1)} | ${f(theirs?.decodeTokensPerSecond, 1)} | ${ratio(ours?.decodeTokensPerSecond, theirs?.decodeTokensPerSecond)} | ${f(ours?.peakRssMb)} | ${f(theirs?.peakRssMb)} |`;
  });
  const table = [
    `| model | meld prefill tok/s | llama.cpp prefill tok/s | prefill ratio | meld decode tok/s | llama.cpp decode tok/s | decode ratio | meld peak RSS MB | llama.cpp peak RSS MB |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  process.stdout.write(
    `\nprefill ${prefill} tokens, decode ${decode} tokens (after a 16-token warm-up), best of ${rounds} alternating rounds, llama.cpp threads: 1, node ${process.version}\n\n${table}\n`,
  );
  const jsonPath = values.json ?? resolve(here, '../../../packages/runtime/bench-runtime.json');
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, prefill, decode, results }, null, 2)}\n`,
  );
  process.stderr.write(`wrote ${jsonPath}\n`);
}

await main();
