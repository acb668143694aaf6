// pnpm bench:tensor — @meld/tensor-core kernels against this machine's memory bandwidth and onnxruntime:
// memory bandwidth (copy, read-only stream), f32 matvec 4096x4096 and 11008x4096, matmul 512/1024/2048 for
// js (TypeScript + WebAssembly SIMD) and ort at 1 and 2 threads, and webgpu where an adapter exists.
// Candidates that are compared are measured in interleaved rounds (a slice of each, round after round), so
// on a shared machine they see the same quiet and busy moments; each is reported by its fastest iteration.
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
import { benchArgs } from './bench-args';

const { values: flags } = parseArgs({
  args: benchArgs(),
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
      '  --quick      one short round per comparison instead of four; for smoke runs',
      '  --no-readme  print the table and write the JSON only, leave packages/tensor-core/README.md alone',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const rounds = flags.quick ? 1 : 4;
const sliceMs = flags.quick ? 150 : 300;
const loadAtStart = loadavg()[0];
const log = (line: string) => process.stderr.write(`${line}\n`);
const packageDir = fileURLToPath(new URL('../../../packages/tensor-core/', import.meta.url));

interface Timing {
  /** Fastest iteration (STREAM's convention; the tables use it). */
  bestMs: number;
  medianMs: number;
  iterations: number;
  /** Process CPU time (all threads) per iteration: robust to other processes sharing the cores. */
  cpuMs: number;
}

interface Candidate {
  key: string;
  /** Untimed preparation before each slice (thread counts). */
  setup?: () => void;
  run: () => unknown;
}

/**
 * Warms each candidate up once, then runs `rounds` rounds; in each, every candidate iterates for `sliceMs`
 * (at least once). Returns each candidate's timing over all its iterations.
 */
async function interleave(candidates: Candidate[]): Promise<Map<string, Timing>> {
  const samples = new Map<string, number[]>(candidates.map((c) => [c.key, []]));
  const cpuMs = new Map<string, number>(candidates.map((c) => [c.key, 0]));
  for (const candidate of candidates) {
    candidate.setup?.();
    await candidate.run();
  }
  for (let round = 0; round < rounds; round++) {
    for (const candidate of candidates) {
      candidate.setup?.();
      const list = samples.get(candidate.key)!;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      let count = 0;
      while (count === 0 || performance.now() - start < sliceMs) {
        const t0 = performance.now();
        await candidate.run();
        list.push(performance.now() - t0);
        count++;
      }
      const cpu = process.cpuUsage(cpuStart);
      cpuMs.set(candidate.key, cpuMs.get(candidate.key)! + (cpu.user + cpu.system) / 1000);
    }
  }
  const result = new Map<string, Timing>();
  for (const [key, list] of samples) {
    const sorted = [...list].sort((a, b) => a - b);
    result.set(key, {
      bestMs: sorted[0],
      medianMs: sorted[sorted.length >> 1],
      iterations: sorted.length,
      cpuMs: cpuMs.get(key)! / sorted.length,
    });
  }
  return result;
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

// ---- backends and memory --------------------------------------------------------------------------------
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
const streamBytes = 256 * 1024 * 1024;
const arena = createSimdArena({ initialBytes: streamBytes + 340 * 1024 * 1024 });
const stream = arena.allocateF32(streamBytes / 4);
stream.fill(1);
// onnxruntime reads ordinary memory (an arena's SharedArrayBuffer would be copied on every call).
const streamHeap = new Float32Array(streamBytes / 4).fill(1);
const streamTensor = Tensor.fromF32(streamHeap, [streamBytes / 4 / 4096, 4096]);
const threadsOf = (threads: number) => () => arena.setThreads(threads);
/** The read-only probes: every reader we have, each streaming 256 MiB once per iteration. */
const streamCandidates: Candidate[] = [
  ...[1, 2].map((threads) => ({
    key: `stream wasm ${threads}`,
    setup: threadsOf(threads),
    run: () => arena.sum(stream),
  })),
  ...[1, 2].map((threads) => ({
    key: `stream ort ${threads}`,
    run: () => runKernel(ort[threads], 'reduce', { x: streamTensor }, { operation: 'sum' }),
  })),
];
const streamLabel = (key: string) =>
  key.includes('wasm') ? 'read-only stream: WebAssembly SIMD sum' : 'read-only stream: onnxruntime ReduceSum';

// ---- memory bandwidth -------------------------------------------------------------------------------
log('memory bandwidth...');
const memory: { measurement: string; threads: number; gbPerSecond: number; ms: number }[] = [];
{
  const target = new Float32Array(streamBytes / 4);
  const timings = await interleave([{ key: 'copy', run: () => target.set(streamHeap) }, ...streamCandidates]);
  const copy = timings.get('copy')!;
  memory.push({
    measurement: 'copy (TypedArray.set), (read + written bytes) / s',
    threads: 1,
    gbPerSecond: round(gbPerSecond(2 * streamBytes, copy.bestMs)),
    ms: round(copy.bestMs, 2),
  });
  for (const candidate of streamCandidates) {
    const timing = timings.get(candidate.key)!;
    memory.push({
      measurement: streamLabel(candidate.key),
      threads: Number(candidate.key.slice(-1)),
      gbPerSecond: round(gbPerSecond(streamBytes, timing.bestMs)),
      ms: round(timing.bestMs, 2),
    });
  }
}

// ---- matvec -------------------------------------------------------------------------------------------
interface MatvecRow {
  shape: string;
  path: string;
  threads: number | string;
  ms: number;
  medianMs: number;
  weightGbPerSecond: number;
  percentOfReadOnlyStream: number;
}
const matvecRows: MatvecRow[] = [];
const Q8_PATH = 'js: WebAssembly SIMD, q8_0 weights (GB/s of q8_0 bytes)';
const STREAM_PATH = 'read-only stream (fastest probe, same rounds)';
for (const [rows, cols] of [
  [4096, 4096],
  [11008, 4096],
] as const) {
  log(`matvec ${rows}x${cols}...`);
  const heapWeight = random(rows * cols, rows);
  const arenaWeight = arena.copyF32(heapWeight);
  const q8Weight = arena.copyBytes(quantizeQ8_0(heapWeight));
  const x = random(cols, 3);
  const out = new Float32Array(rows);
  const weight = Tensor.fromF32(heapWeight, [rows, cols]);
  const xTensor = Tensor.fromF32(x, [cols]);
  const candidates: Candidate[] = [
    ...streamCandidates,
    { key: 'js: TypeScript loop 1', run: () => matvecF32Scalar(out, heapWeight, x, rows, cols) },
    ...[1, 2].map((threads) => ({
      key: `js: WebAssembly SIMD ${threads}`,
      setup: threadsOf(threads),
      run: () => matvecF32(out, arenaWeight, x, rows, cols),
    })),
    { key: `${Q8_PATH} 1`, setup: threadsOf(1), run: () => matvecQ8_0(out, q8Weight, x, rows, cols) },
    ...[1, 2].map((threads) => ({
      key: `ort ${threads}`,
      run: () => runKernel(ort[threads], 'matvec', { weight, x: xTensor }),
    })),
    ...(webgpu !== undefined
      ? [{ key: 'webgpu GPU', run: () => runKernel(webgpu!, 'matvec', { weight, x: xTensor }) }]
      : []),
  ];
  const timings = await interleave(candidates);
  const streamRate = Math.max(
    ...streamCandidates.map((c) => gbPerSecond(streamBytes, timings.get(c.key)!.bestMs)),
  );
  const add = (path: string, threads: number | string, timing: Timing, rate: number) =>
    matvecRows.push({
      shape: `${rows}x${cols}`,
      path,
      threads,
      ms: round(timing.bestMs, 2),
      medianMs: round(timing.medianMs, 2),
      weightGbPerSecond: round(rate),
      percentOfReadOnlyStream: round((100 * rate) / streamRate, 0),
    });
  const fastestStream = streamCandidates.reduce((best, c) =>
    timings.get(c.key)!.bestMs < timings.get(best.key)!.bestMs ? c : best,
  );
  add(
    `${STREAM_PATH}: ${streamLabel(fastestStream.key).replace('read-only stream: ', '')}`,
    Number(fastestStream.key.slice(-1)),
    timings.get(fastestStream.key)!,
    streamRate,
  );
  for (const candidate of candidates.slice(streamCandidates.length)) {
    const separator = candidate.key.lastIndexOf(' ');
    const path = candidate.key.slice(0, separator);
    const threads = candidate.key.slice(separator + 1);
    const timing = timings.get(candidate.key)!;
    const bytes = path === Q8_PATH ? q8Weight.length : rows * cols * 4;
    add(path, threads === 'GPU' ? 'GPU' : Number(threads), timing, gbPerSecond(bytes, timing.bestMs));
  }
}

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
const TS_MATMUL = 'js: TypeScript loop only (reference)';
for (const n of [512, 1024, 2048]) {
  log(`matmul ${n}...`);
  const a = random(n * n, 1);
  const b = random(n * n, 2);
  const out = new Float32Array(n * n);
  const aTensor = Tensor.fromF32(a, [n, n]);
  const bTensor = Tensor.fromF32(b, [n, n]);
  const candidates: Candidate[] = [
    ...(n === 512 ? [{ key: `${TS_MATMUL}|1`, run: () => matmulF32Scalar(out, a, b, n, n, n, false) }] : []),
    ...[1, 2].map((threads) => ({
      key: `${JS_MATMUL}|${threads}`,
      setup: () => setKernelThreads(threads),
      run: () => matmulF32(out, a, b, n, n, n),
    })),
    ...[1, 2].map((threads) => ({
      key: `${ORT_MATMUL}|${threads}`,
      run: () => runKernel(ort[threads], 'matmul', { a: aTensor, b: bTensor }),
    })),
    ...(webgpu !== undefined
      ? [
          {
            key: `webgpu (${webgpu.description})|GPU`,
            run: () => runKernel(webgpu!, 'matmul', { a: aTensor, b: bTensor }),
          },
        ]
      : []),
  ];
  const timings = await interleave(candidates);
  const flops = 2 * n ** 3;
  for (const candidate of candidates) {
    const [backend, threads] = candidate.key.split('|');
    const timing = timings.get(candidate.key)!;
    matmulRows.push({
      n,
      backend,
      threads: threads === 'GPU' ? 'GPU' : Number(threads),
      ms: round(timing.bestMs, 1),
      medianMs: round(timing.medianMs, 1),
      gflops: round(flops / (timing.bestMs / 1000) / 1e9),
      gflopsPerCpuSecond: round(flops / (timing.cpuMs / 1000) / 1e9),
    });
  }
  if (webgpu === undefined)
    matmulRows.push({
      n,
      backend: 'webgpu',
      threads: 'not measured',
      ms: null,
      medianMs: null,
      gflops: null,
      gflopsPerCpuSecond: null,
    });
}
setKernelThreads(1);
arena.close();
for (const backend of Object.values(ort)) await backend.dispose?.();
await webgpu?.dispose?.();

// ---- goals ----------------------------------------------------------------------------------------------
const cpuMatvec = matvecRows.filter(
  (row) => row.threads !== 'GPU' && row.path !== Q8_PATH && !row.path.startsWith(STREAM_PATH),
);
const streamFor = (shape: string) =>
  matvecRows.find((row) => row.shape === shape && row.path.startsWith(STREAM_PATH))?.weightGbPerSecond;
const rate = (backend: string, threads: number, field: 'gflops' | 'gflopsPerCpuSecond') =>
  matmulRows.find((row) => row.n === 1024 && row.backend === backend && row.threads === threads)?.[field] ??
  Number.NaN;
const goals = [
  ...['4096x4096', '11008x4096'].map((shape) => {
    const best = cpuMatvec
      .filter((row) => row.shape === shape)
      .reduce((a, b) => (b.percentOfReadOnlyStream > a.percentOfReadOnlyStream ? b : a));
    return {
      goal: `fastest CPU matvec streams f32 weights at >= 70% of the read-only stream (${shape})`,
      measured: `${best.percentOfReadOnlyStream}% (${best.path}, ${best.threads} thread(s): ${best.weightGbPerSecond} of ${streamFor(shape)} GB/s)`,
      met: best.percentOfReadOnlyStream >= 70,
    };
  }),
  ...[1, 2].map((threads) => {
    const ratio = rate(ORT_MATMUL, threads, 'gflops') / rate(JS_MATMUL, threads, 'gflops');
    const perCpu =
      rate(ORT_MATMUL, threads, 'gflopsPerCpuSecond') / rate(JS_MATMUL, threads, 'gflopsPerCpuSecond');
    return {
      goal: `js within 4x of ort on matmul 1024 at ${threads} thread(s)`,
      measured: `ort/js = ${round(ratio, 2)}x wall-clock (${rate(ORT_MATMUL, threads, 'gflops')} vs ${rate(JS_MATMUL, threads, 'gflops')} GFLOP/s), ${round(perCpu, 2)}x per CPU-second`,
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
  `Measured ${date} on ${machine} with \`${command}\`. Candidates compared with each other ran in ${rounds} ` +
    `interleaved rounds of ~${sliceMs} ms slices; each is reported by its fastest iteration (STREAM's convention; ` +
    `medians are in the JSON). 1-minute load average ${load.atStart} at the start and ${load.atEnd} at the end, on ` +
    `${cpu.length} cores shared with other work: wall-clock rates are what this machine gave at that moment; ` +
    '"GFLOP per CPU-second" divides by the CPU time this process got and is steadier.',
  '',
  table(
    ['memory bandwidth (256 MiB)', 'threads', 'GB/s'],
    memory.map((m) => [m.measurement, m.threads, m.gbPerSecond]),
  ),
  '',
  table(
    ['f32 matvec', 'path', 'threads', 'ms', 'weight GB/s', '% of read-only stream'],
    matvecRows.map((row) => [
      row.shape,
      row.path,
      row.threads,
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

const json = {
  command,
  date,
  machine,
  loadAverage: load,
  rounds,
  sliceMs,
  memory,
  matvec: matvecRows,
  matmul: matmulRows,
  webgpu: webgpu ? webgpu.description : `not measured: ${webgpuReason}`,
  goals,
};
writeAtomic(`${packageDir}bench-results.json`, `${JSON.stringify(json, null, 2)}\n`);
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
