// pnpm bench:merge — mergekit-style merges of three synthetic ~1 GB bf16 models (written by our
// safetensors writer under /tmp, deleted afterwards), linear and ties, against a filesystem copy
// (cp) of the same shards in the same run. The page cache is warmed by reading every shard once
// before each measurement, for cp and for the merges alike, and the previous run's output is
// deleted right before each timed run: on this VM, memory the guest has not touched for a couple
// of seconds is returned to the host, and refaulting it costs 0.5-2 s per GB (measured with a plain
// 1 GB write or fill after 5 s idle), so both sides write into just-freed pages. Each merge runs in
// a child process so its peak RSS (getrusage maxrss) is its own. `sync` runs before each timed
// run, so no run pays for writing back an earlier one's dirty pages.
//   node dist/bench-merge.js [--layers 8] [--repeats 1] [--out DIR] [--keep]
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mergeModels } from '@meld/model-merge';
import { type SafetensorsEntry, Tensor, writeSafetensorsSharded } from '@meld/tensor-core';
import { benchArgs } from './bench-args';

const { values, positionals } = parseArgs({
  args: benchArgs(),
  options: {
    layers: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1,2' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

if (values.help) {
  process.stdout.write(
    [
      'pnpm bench:merge [-- options]',
      '  --layers N    decoder layers per synthetic model (default 8: ~1.08 GB in bf16)',
      '  --repeats N   timed runs per method and of cp, best kept (default 2: a first run may write into cold pages)',
      '  --threads L   comma-separated mergeModels thread counts, one row per method each (default 1,2)',
      '  --out DIR     where merge-bench.{md,json} go (default packages/model-merge/benchmarks)',
      '  --keep        keep the synthetic models under /tmp',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const hidden = 2048;
const intermediate = 5632;
const vocab = 32000;
const outShardBytes = 500_000_000;

if (values.child) {
  // child: one merge, then report seconds and peak RSS on stdout
  const [configPath, outputDir, threads] = positionals as [string, string, string];
  const started = performance.now();
  const result = mergeModels({ configPath, outputDir, outShardBytes, threads: Number(threads) });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ seconds, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, inputBytes: result.inputBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
  );
  process.exit(0);
}

function shapes(layers: number): [string, number[]][] {
  const list: [string, number[]][] = [['model.embed_tokens.weight', [vocab, hidden]]];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    list.push(
      [`${p}.input_layernorm.weight`, [hidden]],
      [`${p}.self_attn.q_proj.weight`, [hidden, hidden]],
      [`${p}.self_attn.k_proj.weight`, [hidden, hidden]],
      [`${p}.self_attn.v_proj.weight`, [hidden, hidden]],
      [`${p}.self_attn.o_proj.weight`, [hidden, hidden]],
      [`${p}.post_attention_layernorm.weight`, [hidden]],
      [`${p}.mlp.gate_proj.weight`, [intermediate, hidden]],
      [`${p}.mlp.up_proj.weight`, [intermediate, hidden]],
      [`${p}.mlp.down_proj.weight`, [hidden, intermediate]],
    );
  }
  list.push(['model.norm.weight', [hidden]], ['lm_head.weight', [vocab, hidden]]);
  return list;
}

/** bf16 bits of base + model-specific noise, from a counter hash (fast, reproducible). */
function synthetic(name: string, shape: number[], model: number): Tensor {
  let size = 1;
  for (const d of shape) size *= d;
  const bits = new Uint16Array(size);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let seed = 0;
  for (let i = 0; i < name.length; i++) seed = Math.imul(seed ^ name.charCodeAt(i), 0x01000193) >>> 0;
  let a = seed | 1;
  let b = (seed ^ (model * 0x9e3779b9)) | 1;
  for (let i = 0; i < size; i++) {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    b ^= b << 13;
    b ^= b >>> 17;
    b ^= b << 5;
    f32[0] =
      ((a >>> 0) / 4294967296 - 0.5) * 0.04 + (model === 0 ? 0 : ((b >>> 0) / 4294967296 - 0.5) * 0.004);
    bits[i] = u32[0]! >>> 16;
  }
  return Tensor.fromBytes('bf16', shape, new Uint8Array(bits.buffer));
}

function writeModel(folder: string, layers: number, model: number): void {
  mkdirSync(folder, { recursive: true });
  const entries: SafetensorsEntry[] = shapes(layers).map(([name, shape]) => ({
    name,
    dtype: 'BF16',
    shape,
    data: () => synthetic(name, shape, model),
  }));
  writeSafetensorsSharded(folder, entries, { maxShardBytes: 400_000_000, metadata: { format: 'pt' } });
  writeFileSync(
    join(folder, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      num_hidden_layers: layers,
      hidden_size: hidden,
      vocab_size: vocab,
    }),
  );
}

function shardFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => join(folder, f));
}

function warm(files: string[]): void {
  const buffer = Buffer.alloc(1 << 24);
  for (const file of files) {
    const fd = openSync(file, 'r');
    while (readSync(fd, buffer, 0, buffer.length, null) > 0) {}
    closeSync(fd);
  }
}

const loadAverageAtStart = loadavg()[0]!;
const layers = Number(values.layers);
const repeats = Math.max(1, Number(values.repeats));
const root = mkdtempSync(join(tmpdir(), 'meld-bench-merge-'));
const results: Record<string, unknown>[] = [];
try {
  const folders = [0, 1, 2].map((m) => join(root, `model-${m}`));
  let started = performance.now();
  for (const [m, folder] of folders.entries()) writeModel(folder, layers, m);
  const inputs = folders.flatMap(shardFiles);
  const inputBytes = inputs.reduce((sum, f) => sum + statSync(f).size, 0);
  log(
    `wrote 3 synthetic bf16 models, ${(inputBytes / 1e9).toFixed(2)} GB, in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const largestTensor = vocab * hidden * 2;

  // the previous run's output, deleted right before the next run starts (see the top comment)
  let previousOutput: string | undefined;
  const prepare = () => {
    warm(inputs);
    if (previousOutput) rmSync(previousOutput, { recursive: true, force: true });
    // nothing left dirty: the synthetic models' own writeback otherwise throttles the first runs
    // (cp took 8 s instead of 0.8 s right after the models were written)
    spawnSync('sync');
  };
  // cp baseline
  let cpSeconds = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeats; r++) {
    const destination = join(root, `cp-out-${r}`);
    prepare();
    mkdirSync(destination);
    started = performance.now();
    const copy = spawnSync('cp', ['-r', ...folders, destination], { stdio: 'inherit' });
    if (copy.status !== 0) throw new Error('cp failed');
    cpSeconds = Math.min(cpSeconds, (performance.now() - started) / 1000);
    previousOutput = destination;
  }
  results.push({
    method: 'cp (filesystem copy)',
    seconds: cpSeconds,
    inputBytesPerSecond: inputBytes / cpSeconds,
  });
  log(`cp: ${cpSeconds.toFixed(2)} s, ${(inputBytes / cpSeconds / 1e9).toFixed(2)} GB/s`);

  const configs: Record<string, string> = {
    linear: [
      'merge_method: linear',
      'models:',
      ...folders.map((f) => `  - model: ${f}\n    parameters: {weight: 1}`),
      'dtype: bfloat16',
      '',
    ].join('\n'),
    ties: [
      'merge_method: ties',
      `base_model: ${folders[0]}`,
      'models:',
      ...folders.slice(1).map((f) => `  - model: ${f}\n    parameters: {weight: 0.5, density: 0.5}`),
      'dtype: bfloat16',
      '',
    ].join('\n'),
  };
  const self = fileURLToPath(import.meta.url);
  const threadCounts = String(values.threads)
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x >= 1);
  const runs = Object.entries(configs).flatMap(([name, config]) =>
    threadCounts.map((threads) => ({ name, config, threads })),
  );
  for (const { name, config, threads } of runs) {
    const method = threadCounts.length > 1 ? `${name}, ${threads} thread${threads > 1 ? 's' : ''}` : name;
    const configPath = join(root, `${name}.yml`);
    writeFileSync(configPath, config);
    let best: { seconds: number; cpuSeconds: number; inputBytes: number; maxRssBytes: number } | undefined;
    for (let r = 0; r < repeats; r++) {
      const out = join(root, `${name}-${threads}-out-${r}`);
      prepare();
      const child = spawnSync(process.execPath, [self, '--child', configPath, out, String(threads)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (child.status !== 0) throw new Error(`${method} merge failed: ${child.stderr}`);
      const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
      if (!best || report.seconds < best.seconds) best = report;
      log(
        `  ${method} run ${r + 1}: ${report.seconds.toFixed(2)} s wall, ${report.cpuSeconds.toFixed(2)} s CPU, load average ${loadavg()[0]!.toFixed(1)}`,
      );
      previousOutput = out;
    }
    const rssBudget = 3 * largestTensor * 3 + outShardBytes; // both methods read three models
    const rate = best!.inputBytes / best!.seconds;
    results.push({
      method,
      seconds: best!.seconds,
      cpuSeconds: best!.cpuSeconds,
      inputBytesPerSecond: rate,
      fractionOfCp: rate / (inputBytes / cpSeconds),
      goal: name === 'linear' ? 0.5 : 0.25,
      peakRssBytes: best!.maxRssBytes,
      rssBudgetBytes: rssBudget,
    });
    log(
      `${method}: ${best!.seconds.toFixed(2)} s, ${(rate / 1e9).toFixed(3)} GB/s (${((100 * rate) / (inputBytes / cpSeconds)).toFixed(1)}% of cp), peak RSS ${(best!.maxRssBytes / 1e9).toFixed(2)} GB (budget ${(rssBudget / 1e9).toFixed(2)} GB)`,
    );
  }

  const gb = (x: unknown) => (typeof x === 'number' ? (x / 1e9).toFixed(2) : '');
  const table = [
    `Three synthetic Llama-shaped bf16 models (${layers} layers, hidden ${hidden}, vocab ${vocab}; ${(inputBytes / 1e9).toFixed(2)} GB of shards in all), page cache warm for every run (each shard read once before it) and the previous run's output deleted right before it (so every run writes into just-freed pages; see bench-merge.ts). Output bf16, 500 MB shards.`,
    '',
    '| run | seconds | CPU s | input GB/s | vs cp | goal | peak RSS GB | RSS budget GB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.method} | ${(r.seconds as number).toFixed(2)} | ${typeof r.cpuSeconds === 'number' ? r.cpuSeconds.toFixed(2) : ''} | ${gb(r.inputBytesPerSecond)} | ${typeof r.fractionOfCp === 'number' ? `${(100 * r.fractionOfCp).toFixed(1)}%` : '100%'} | ${typeof r.goal === 'number' ? `≥ ${100 * r.goal}%` : ''} | ${gb(r.peakRssBytes)} | ${gb(r.rssBudgetBytes)} |`,
    ),
    '',
    `RSS budget = 3 × (largest tensor ${gb(largestTensor)} GB × 3 models) + one output shard (0.5 GB). Load average (1 min) ${loadAverageAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} cores (shared machine).`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  const outDir =
    values.out ?? fileURLToPath(new URL('../../../packages/model-merge/benchmarks/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'merge-bench.md'), `${table}\n`);
  writeFileSync(
    join(outDir, 'merge-bench.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, command: `node dist/bench-merge.js ${benchArgs().join(' ')}`.trim(), layers, inputBytes, loadAverage: { start: loadAverageAtStart, end: loadavg()[0]! }, results }, null, 2)}\n`,
  );
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
  else log(`kept ${root}`);
}
