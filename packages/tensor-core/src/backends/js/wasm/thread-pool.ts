// Worker threads that run the SIMD module on the same shared WebAssembly memory. Dispatch is synchronous:
// the caller writes one task per worker into a shared control block, wakes them with Atomics.notify, does
// its own share, then Atomics.wait()s until every worker has finished (Node allows waiting on its main thread).
import type { Worker } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './webassembly-api';

/** Control block: [0] generation, [1] workers still busy, [2] workers ready, then 12 ints per worker. */
const HEADER = 4;
const SLOT = 12;

export const TASK_MATVEC = 1;
export const TASK_MATMUL = 2;
const TASK_EXIT = 3;
export const TASK_SUM = 4;
export const TASK_MATVEC_Q8 = 5;

const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(control);
const base = ${HEADER} + index * ${SLOT};
let seen = 0;
Atomics.add(c, 2, 1);
Atomics.notify(c, 2);
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  const task = c[base];
  if (task === ${TASK_EXIT}) break;
  if (task === ${TASK_MATVEC}) kernels.matvec(c[base + 1], c[base + 2], c[base + 3], c[base + 4], c[base + 5], c[base + 6]);
  else if (task === ${TASK_MATMUL}) kernels.matmul(c[base + 1], c[base + 2], c[base + 3], c[base + 4], c[base + 5], c[base + 6], c[base + 7], c[base + 8], c[base + 9]);
  else if (task === ${TASK_SUM}) kernels.sum(c[base + 1], c[base + 2], c[base + 3]);
  else if (task === ${TASK_MATVEC_Q8}) kernels.matvecQ8(c[base + 1], c[base + 2], c[base + 3], c[base + 4], c[base + 5], c[base + 6], c[base + 7]);
  if (Atomics.sub(c, 1, 1) === 1) Atomics.notify(c, 1);
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

  /** Starts `size` workers (blocking until they are ready: tens of milliseconds once). */
  constructor(module: WasmModule, memory: WasmMemory, size: number) {
    const threads = workerThreads();
    if (threads === undefined) throw new Error('worker_threads is not available here');
    this.size = size;
    this.control = new Int32Array(new SharedArrayBuffer((HEADER + SLOT * size) * 4));
    for (let index = 0; index < size; index++) {
      const worker = new threads.Worker(workerSource, {
        eval: true,
        workerData: { module, memory, control: this.control.buffer, index },
      });
      worker.unref();
      this.workers.push(worker);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = Atomics.load(this.control, 2);
      if (ready >= size) break;
      if (Date.now() > deadline) {
        for (const worker of this.workers) void worker.terminate();
        throw new Error(`ThreadPool: only ${ready} of ${size} workers started within 30 s`);
      }
      Atomics.wait(this.control, 2, ready, 1000);
    }
  }

  /** Sets worker `index`'s task (call for each worker, then `start`). */
  assign(index: number, task: number, args: readonly number[]): void {
    const base = HEADER + index * SLOT;
    this.control[base] = task;
    for (let i = 0; i < args.length; i++) this.control[base + 1 + i] = args[i];
  }

  start(): void {
    Atomics.store(this.control, 1, this.size);
    Atomics.add(this.control, 0, 1);
    Atomics.notify(this.control, 0);
  }

  /** Blocks until every worker has finished the task given at the last `start`. */
  wait(): void {
    for (;;) {
      const busy = Atomics.load(this.control, 1);
      if (busy === 0) return;
      Atomics.wait(this.control, 1, busy);
    }
  }

  close(): void {
    for (let index = 0; index < this.size; index++) this.assign(index, TASK_EXIT, []);
    this.start();
    for (const worker of this.workers) void worker.terminate();
    this.workers.length = 0;
  }
}
