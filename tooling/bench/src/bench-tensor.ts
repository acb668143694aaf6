// pnpm bench:tensor — @meld/tensor-core kernels against this machine's memory bandwidth and onnxruntime:
// memory bandwidth (copy, read-only stream), f32 matvec 4096x4096 and 11008x4096, matmul 512/1024/2048 for
// js (TypeScript + WebAssembly SIMD) and ort at 1 and 2 threads, and webgpu where an adapter exists.
// Writes packages/tensor-core/bench-results.json and the table between the bench markers of its README.
//   node dist/bench-tensor.js [--quick] [--no-readme]

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type BackendV1,
  createOrtBackend,
  createSimdArena,
  createWebGpuBackend,
  matmulF32,
  matmulF32Scalar,
  matvecF32,
  matvecF32Scalar,
  matvecQ8_0,
  quantizeQ8_0,
  runKernel,
  setKernelThreads,
  Tensor,
} from '@meld/tensor-core';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-readme': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    [
      'pnpm bench:tensor [-- options]',
      '  --quick      shorter timings (0.3 s per measurement instead of 1 s); for smoke runs',
      '  --no-readme  print the table and write the JSON only, leave packages/tensor-core/README.md alone',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const seconds = flags.quick ? 0.3 : 1;
const loadAtStart = loadavg()[0];
const log = (line: string) => process.stderr.write(`${line}\n`);
const packageDir = fileURLToPath(new URL('../../../packages/tensor-core/', import.meta.url));

interface Timing {
  /** Fastest iteration (STREAM's convention; the table uses it). */
  bestMs: number;
  medianMs: number;
  iterations: number;
  /** Process CPU time (all threads) per iteration: robust to other processes sharing the cores. */
  cpuMs: number;
}

/** Warm-up once, then iterate for `seconds` (at least 3 times); the median time per iteration. */
async function time(run: () => unknown | Promise<unknown>): Promise<Timing> {
  await run();
  const samples: number[] = [];
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  while (samples.length < 3 || performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpuStart);
  samples.sort((a, b) => a - b);
  return {
    bestMs: samples[0],
    medianMs: samples[samples.length >> 1],
    iterations: samples.length,
    cpuMs: (cpu.user + cpu.system) / 1000 / samples.length,
  };
}

function random(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  return out;
}

const gbPerSecond = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e9;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

// ---- memory bandwidth -------------------------------------------------------------------------------
const streamBytes = 256 * 1024 * 1024;
const arena = createSimdArena({ initialBytes: streamBytes + 300 * 1024 * 1024 });
const memory: { measurement: string; threads: number; gbPerSecond: number; ms: number }[] = [];
{
  log('memory bandwidth...');
  const source = new Float32Array(streamBytes / 4).fill(1);
  const target = new Float32Array(streamBytes / 4);
  const copy = await time(() => target.set(source));
  memory.push({
    measurement: 'copy (TypedArray.set), (read + written bytes) / s',
    threads: 1,
    gbPerSecond: round(gbPerSecond(2 * streamBytes, copy.bestMs)),
    ms: round(copy.bestMs, 2),
  });
  const stream = arena.allocateF32(streamBytes / 4);
  stream.set(source);
  for (const threads of [1, 2]) {
    arena.setThreads(threads);
    const read = await time(() => arena.sum(stream));
    memory.push({
      measurement: 'read-only stream (WebAssembly SIMD sum)',
      threads,
      gbPerSecond: round(gbPerSecond(streamBytes, read.bestMs)),
      ms: round(read.bestMs, 2),
    });
  }
}
const readOnlyStream = Math.max(
  ...memory.filter((m) => m.measurement.startsWith('read-only')).map((m) => m.gbPerSecond),
);

// ---- backends -----------------------------------------------------------------------------------------
const ort: Record<number, BackendV1> = {
  1: await createOrtBackend({ intraOpNumThreads: 1 }),
  2: await createOrtBackend({ intraOpNumThreads: 2 }),
};
let webgpu: BackendV1 | undefined;
let webgpuReason = '';
try {
  webgpu = await createWebGpuBackend();
} catch (error) {
  webgpuReason = error instanceof Error ? error.message : String(error);
}

// ---- matvec -------------------------------------------------------------------------------------------
interface MatvecRow {
  shape: string;
  path: string;
  threads: number;
  ms: number;
  medianMs: number;
  weightGbPerSecond: number;
  percentOfReadOnlyStream: number;
}
const matvecRows: MatvecRow[] = [];
const Q8_PATH = 'js: WebAssembly SIMD, q8_0 weights (GB/s of q8_0 bytes)';
for (const [rows, cols] of [
  [4096, 4096],
  [11008, 4096],
] as const) {
  log(`matvec ${rows}x${cols}...`);
  const heapWeight = random(rows * cols, rows);
  const arenaWeight = arena.copyF32(heapWeight);
  const x = random(cols, 3);
  const out = new Float32Array(rows);
  const bytes = rows * cols * 4;
  const add = (path: string, threads: number, timing: Timing, bytesRead = bytes) => {
    const rate = gbPerSecond(bytesRead, timing.bestMs);
    matvecRows.push({
      shape: `${rows}x${cols}`,
      path,
      threads,
      ms: round(timing.bestMs, 2),
      medianMs: round(timing.medianMs, 2),
      weightGbPerSecond: round(rate),
      percentOfReadOnlyStream: round((100 * rate) / readOnlyStream, 0),
    });
  };
  add('js: TypeScript loop', 1, await time(() => matvecF32Scalar(out, heapWeight, x, rows, cols)));
  for (const threads of [1, 2]) {
    arena.setThreads(threads);
    add('js: WebAssembly SIMD', threads, await time(() => matvecF32(out, arenaWeight, x, rows, cols)));
  }
  const q8Weight = arena.copyBytes(quantizeQ8_0(heapWeight));
  arena.setThreads(1);
  add(Q8_PATH, 1, await time(() => matvecQ8_0(out, q8Weight, x, rows, cols)), q8Weight.length);
  const weight = Tensor.fromF32(heapWeight, [rows, cols]);
  const xTensor = Tensor.fromF32(x, [cols]);
  for (const threads of [1, 2])
    add('ort', threads, await time(() => runKernel(ort[threads], 'matvec', { weight, x: xTensor })));
  if (webgpu !== undefined)
    add(`webgpu`, 0, await time(() => runKernel(webgpu!, 'matvec', { weight, x: xTensor })));
}
arena.close();

// ---- matmul -------------------------------------------------------------------------------------------
interface MatmulRow {
  n: number;
  backend: string;
  threads: number | string;
  ms: number | null;
  medianMs: number | null;
  gflops: number | null;
  /** GFLOP per second of process CPU time (all threads together). */
  gflopsPerCpuSecond: number | null;
}
const matmulRows: MatmulRow[] = [];
const JS_MATMUL = 'js (TypeScript + WebAssembly SIMD)';
const ORT_MATMUL = 'ort (onnxruntime-node CPU)';
for (const n of [512, 1024, 2048]) {
  log(`matmul ${n}...`);
  const a = random(n * n, 1);
  const b = random(n * n, 2);
  const out = new Float32Array(n * n);
  const flops = 2 * n ** 3;
  const add = (backend: string, threads: number | string, timing: Timing | null) =>
    matmulRows.push({
      n,
      backend,
      threads,
      ms: timing ? round(timing.bestMs, 1) : null,
      medianMs: timing ? round(timing.medianMs, 1) : null,
      gflops: timing ? round(flops / (timing.bestMs / 1000) / 1e9) : null,
      gflopsPerCpuSecond: timing ? round(flops / (timing.cpuMs / 1000) / 1e9) : null,
    });
  if (n === 512)
    add(
      'js: TypeScript loop only (reference)',
      1,
      await time(() => matmulF32Scalar(out, a, b, n, n, n, false)),
    );
  for (const threads of [1, 2]) {
    setKernelThreads(threads);
    add(JS_MATMUL, threads, await time(() => matmulF32(out, a, b, n, n, n)));
  }
  setKernelThreads(1);
  const aTensor = Tensor.fromF32(a, [n, n]);
  const bTensor = Tensor.fromF32(b, [n, n]);
  for (const threads of [1, 2])
    add(ORT_MATMUL, threads, await time(() => runKernel(ort[threads], 'matmul', { a: aTensor, b: bTensor })));
  if (webgpu !== undefined)
    add(
      `webgpu (${webgpu.description})`,
      'GPU',
      await time(() => runKernel(webgpu!, 'matmul', { a: aTensor, b: bTensor })),
    );
  else add('webgpu', 'not measured', null);
}
for (const backend of Object.values(ort)) await backend.dispose?.();
await webgpu?.dispose?.();

// ---- goals ----------------------------------------------------------------------------------------------
const cpuMatvec = matvecRows.filter((row) => row.path !== 'webgpu' && row.path !== Q8_PATH);
const bestMatvec = cpuMatvec.reduce((best, row) =>
  row.percentOfReadOnlyStream > best.percentOfReadOnlyStream ? row : best,
);
const rate = (backend: string, threads: number) =>
  matmulRows.find((row) => row.n === 1024 && row.backend === backend && row.threads === threads)?.gflops ??
  Number.NaN;
const goals = [
  {
    goal: 'fastest CPU matvec streams f32 weights at >= 70% of the read-only stream',
    measured: `${bestMatvec.percentOfReadOnlyStream}% (${bestMatvec.path}, ${bestMatvec.threads} thread(s), ${bestMatvec.shape}: ${bestMatvec.weightGbPerSecond} of ${readOnlyStream} GB/s)`,
    met: bestMatvec.percentOfReadOnlyStream >= 70,
  },
  ...[1, 2].map((threads) => {
    const ratio = rate(ORT_MATMUL, threads) / rate(JS_MATMUL, threads);
    return {
      goal: `js within 4x of ort on matmul 1024 at ${threads} thread(s)`,
      measured: `ort/js = ${round(ratio, 2)}x (${rate(ORT_MATMUL, threads)} vs ${rate(JS_MATMUL, threads)} GFLOP/s)`,
      met: ratio <= 4,
    };
  }),
];

// ---- output ----------------------------------------------------------------------------------------------
const cpu = cpus();
const machine = `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}`;
const load = { atStart: round(loadAtStart, 1), atEnd: round(loadavg()[0], 1) };
const command = 'pnpm bench:tensor';
const date = new Date().toISOString();
const table = (header: string[], rows: (string | number | boolean | null)[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map((cell) => cell ?? '').join(' | ')} |`),
  ].join('\n');
const markdown = [
  `Measured ${date} on ${machine} with \`${command}\`: the fastest of >= 3 runs over ~${seconds} s each (STREAM's convention; medians are in the JSON). ` +
    `1-minute load average ${load.atStart} at the start and ${load.atEnd} at the end, on ${cpu.length} cores shared with other work: wall-clock rates are ` +
    'what this machine gave at that moment; "GFLOP per CPU-second" divides by the CPU time this process got and is steadier.',
  '',
  table(
    ['memory bandwidth', 'threads', 'GB/s'],
    memory.map((m) => [m.measurement, m.threads, m.gbPerSecond]),
  ),
  '',
  table(
    ['f32 matvec', 'path', 'threads', 'ms', 'weight GB/s', '% of read-only stream'],
    matvecRows.map((row) => [
      row.shape,
      row.path,
      row.path === 'webgpu' ? 'GPU' : row.threads,
      row.ms,
      row.weightGbPerSecond,
      `${row.percentOfReadOnlyStream}%`,
    ]),
  ),
  '',
  table(
    ['matmul n x n x n', 'backend', 'threads', 'ms', 'GFLOP/s', 'GFLOP per CPU-second'],
    matmulRows.map((row) => [
      row.n,
      row.backend,
      row.threads,
      row.ms ?? 'not measured',
      row.gflops ?? (webgpuReason ? `not measured: ${webgpuReason}` : 'not measured'),
      row.gflopsPerCpuSecond ?? '',
    ]),
  ),
  '',
  table(
    ['goal', 'measured', 'met'],
    goals.map((g) => [g.goal, g.measured, g.met ? 'yes' : 'no']),
  ),
].join('\n');
process.stdout.write(`${markdown}\n`);

function writeAtomic(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

writeAtomic(
  `${packageDir}bench-results.json`,
  `${JSON.stringify({ command, date, machine, loadAverage: load, seconds, memory, readOnlyStreamGbPerSecond: readOnlyStream, matvec: matvecRows, matmul: matmulRows, webgpu: webgpu ? webgpu.description : `not measured: ${webgpuReason}`, goals }, null, 2)}\n`,
);
if (!flags['no-readme']) {
  const readmePath = `${packageDir}README.md`;
  const begin = '<!-- bench-tensor:begin -->';
  const end = '<!-- bench-tensor:end -->';
  const readme = readFileSync(readmePath, 'utf8');
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) log(`README has no ${begin} ... ${end} markers; left unchanged`);
  else writeAtomic(readmePath, `${readme.slice(0, from + begin.length)}\n${markdown}\n${readme.slice(to)}`);
}
process.exit(0);
