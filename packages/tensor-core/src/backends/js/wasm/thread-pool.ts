// Worker threads that run the SIMD module on the same shared WebAssembly memory, scheduling work in chunks:
// every thread (the caller included) claims the next chunk with a compare-and-swap until none is left, so a
// thread that the OS does not schedule (a busy shared machine) delays the call by at most one chunk.
// Dispatch is synchronous: the caller Atomics.wait()s (allowed on Node's main thread) for the last chunk.
import type { Worker } from 'node:worker_threads';
import type { SimdExports } from './simd-module';
import type { WasmMemory, WasmModule } from './webassembly-api';

export const TASK_MATVEC = 1;
export const TASK_MATMUL = 2;
const TASK_EXIT = 3;
export const TASK_SUM = 4;
export const TASK_MATVEC_Q8 = 5;
export const TASK_MATMUL_Q8 = 6;

// Control block (Int32Array): generation, claim word (generation tag << 16 | next chunk), workers ready,
// chunks completed, chunk count, task, units, units per chunk, then the task's arguments.
const GENERATION = 0;
const CLAIM = 1;
const READY = 2;
const COMPLETED = 3;
const CHUNKS = 4;
const TASK = 5;
const UNITS = 6;
const UNITS_PER_CHUNK = 7;
const ARGUMENTS = 8;
const ARGUMENT_COUNT = 10;
/** Chunks per call are tagged in 16 bits. */
export const MAXIMUM_CHUNKS = 65535;

/**
 * Runs chunk `chunk` (units [start, end)) of a task; `a` are the task's arguments. The workers run this very
 * function from its source text, so it must stay self-contained: literal task numbers, no outer names.
 */
export function runChunk(
  kernels: SimdExports,
  task: number,
  a: Int32Array | readonly number[],
  start: number,
  end: number,
  chunk: number,
): void {
  if (task === 1) kernels.matvec(a[0], a[1], a[2], start, end, a[3]);
  else if (task === 5) kernels.matvecQ8(a[0], a[1], a[2], a[3], start, end, a[4], a[5]);
  else if (task === 6) kernels.matmulQ8(a[0], a[1], a[2], a[3], start, end, a[4], a[5], a[6], a[7]);
  else if (task === 2)
    kernels.matmul(
      a[0] + start * a[5],
      a[1],
      a[2] + start * a[8],
      (end - start) * a[9],
      a[3],
      a[4],
      a[5],
      a[6],
      a[7],
    );
  else if (task === 4) kernels.sum(a[0] + start * 64, a[0] + end * 64, a[1] + chunk * 4);
}

const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, runChunkSource } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const runChunk = new Function('return ' + runChunkSource)();
const c = new Int32Array(control);
const args = new Int32Array(${ARGUMENT_COUNT});
let seen = 0;
Atomics.add(c, ${READY}, 1);
Atomics.notify(c, ${READY});
for (;;) {
  Atomics.wait(c, ${GENERATION}, seen);
  const generation = Atomics.load(c, ${GENERATION});
  seen = generation;
  const task = c[${TASK}];
  const chunks = c[${CHUNKS}];
  const units = c[${UNITS}];
  const perChunk = c[${UNITS_PER_CHUNK}];
  for (let i = 0; i < ${ARGUMENT_COUNT}; i++) args[i] = c[${ARGUMENTS} + i];
  if (Atomics.load(c, ${GENERATION}) !== generation) continue;
  if (task === ${TASK_EXIT}) break;
  for (;;) {
    const word = Atomics.load(c, ${CLAIM});
    if (word >>> 16 !== (generation & 0xffff)) break;
    const chunk = word & 0xffff;
    if (chunk >= chunks) break;
    if (Atomics.compareExchange(c, ${CLAIM}, word, word + 1) !== word) continue;
    const start = chunk * perChunk;
    runChunk(kernels, task, args, start, Math.min(units, start + perChunk), chunk);
    if (Atomics.add(c, ${COMPLETED}, 1) + 1 === chunks) Atomics.notify(c, ${COMPLETED});
  }
}
`;

type WorkerThreadsModule = typeof import('node:worker_threads');

function workerThreads(): WorkerThreadsModule | undefined {
  if (typeof process === 'undefined' || typeof process.getBuiltinModule !== 'function') return undefined;
  return process.getBuiltinModule('node:worker_threads');
}

/** True where worker threads can share WebAssembly memory (Node.js >= 20.16). */
export function threadsSupported(): boolean {
  return workerThreads() !== undefined && typeof SharedArrayBuffer !== 'undefined';
}

export class ThreadPool {
  readonly size: number;
  private readonly control: Int32Array;
  private readonly workers: Worker[] = [];
  private generation = 0;

  /** Starts `size` workers (blocking until they are ready: tens of milliseconds, once). */
  constructor(module: WasmModule, memory: WasmMemory, size: number) {
    const threads = workerThreads();
    if (threads === undefined) throw new Error('worker_threads is not available here');
    this.size = size;
    this.control = new Int32Array(new SharedArrayBuffer((ARGUMENTS + ARGUMENT_COUNT) * 4));
    for (let index = 0; index < size; index++) {
      const worker = new threads.Worker(workerSource, {
        eval: true,
        workerData: { module, memory, control: this.control.buffer, runChunkSource: runChunk.toString() },
      });
      worker.unref();
      this.workers.push(worker);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = Atomics.load(this.control, READY);
      if (ready >= size) break;
      if (Date.now() > deadline) {
        for (const worker of this.workers) void worker.terminate();
        throw new Error(`ThreadPool: only ${ready} of ${size} workers started within 30 s`);
      }
      Atomics.wait(this.control, READY, ready, 1000);
    }
  }

  /**
   * Runs `task` over `units` in chunks of `unitsPerChunk`, on the workers and this thread together; returns
   * when every chunk is done.
   */
  run(
    kernels: SimdExports,
    task: number,
    args: readonly number[],
    units: number,
    unitsPerChunk: number,
  ): void {
    const c = this.control;
    const chunks = Math.ceil(units / unitsPerChunk);
    if (chunks > MAXIMUM_CHUNKS)
      throw new RangeError(`ThreadPool: ${chunks} chunks is more than ${MAXIMUM_CHUNKS}`);
    c[TASK] = task;
    c[CHUNKS] = chunks;
    c[UNITS] = units;
    c[UNITS_PER_CHUNK] = unitsPerChunk;
    for (let i = 0; i < args.length; i++) c[ARGUMENTS + i] = args[i];
    Atomics.store(c, COMPLETED, 0);
    this.generation = (this.generation + 1) | 0;
    const tag = this.generation & 0xffff;
    Atomics.store(c, CLAIM, tag << 16);
    Atomics.store(c, GENERATION, this.generation);
    Atomics.notify(c, GENERATION);
    for (;;) {
      const word = Atomics.load(c, CLAIM);
      const chunk = word & 0xffff;
      if (chunk >= chunks) break;
      if (Atomics.compareExchange(c, CLAIM, word, word + 1) !== word) continue;
      const start = chunk * unitsPerChunk;
      runChunk(kernels, task, args, start, Math.min(units, start + unitsPerChunk), chunk);
      Atomics.add(c, COMPLETED, 1);
    }
    for (;;) {
      const done = Atomics.load(c, COMPLETED);
      if (done >= chunks) return;
      Atomics.wait(c, COMPLETED, done);
    }
  }

  close(): void {
    const c = this.control;
    c[TASK] = TASK_EXIT;
    this.generation = (this.generation + 1) | 0;
    Atomics.store(c, CLAIM, (this.generation & 0xffff) << 16);
    Atomics.store(c, GENERATION, this.generation);
    Atomics.notify(c, GENERATION);
    for (const worker of this.workers) void worker.terminate();
    this.workers.length = 0;
  }
}
