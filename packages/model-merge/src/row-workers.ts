// Row workers: worker_threads that split a large tensor's rows between them (the code they run is
// row-worker-main.ts). Inputs, outputs and scratch live in shared memory, in the MergeArena when
// there is one (then the workers run the SIMD kernels and read their share of the inputs from the
// files themselves) and in SharedArrayBuffers otherwise. mergeModels stays synchronous: the calling
// thread posts one job per worker and waits in Atomics.wait, taking pieces of its background IO
// between polls, until every worker has counted itself done; errors come back through a port
// polled synchronously.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { bf16ToF32Table, f16ToF32Table, MeldError } from '@meld/tensor-core';
import type { BackgroundIO } from './background-io';
import { type MergeArena, ReusableBuffer } from './merge-arena';
import type { SparsifierSpec } from './methods/sparsify';
import { type SharedArrayRef, workerSource } from './row-worker-main';
import { mergeKernelModuleBytes } from './simd/kernels';
import type { RawElements } from './tensor-view';

export class RowWorkerError extends MeldError {
  constructor(message: string) {
    super('row-worker', message);
    this.name = 'RowWorkerError';
  }
}

/** out = Σ terms[i].coefficient · input (the first term assigned as 0 + c·x unless zeroFill), encoded. */
export interface CombineJob {
  readonly inputs: readonly RawElements[];
  readonly coefficients: readonly number[];
  /** When true, the chunk buffer is zero-filled and every term accumulates (a combination without models). */
  readonly zeroFill: boolean;
  readonly output: RawElements;
  readonly rowLength: number;
  readonly rowCount: number;
  readonly chunkElements: number;
}

/** A learning pass of TIES' exact top-k: radix histograms of τ counted by the row workers. */
export interface HistogramJob {
  readonly base: RawElements;
  readonly models: readonly RawElements[];
  /** The delta cache (f32, one per model): filled in pass 0 when `fillCache`, read afterwards. */
  readonly cache?: readonly Float32Array[];
  readonly fillCache: boolean;
  readonly pass: 0 | 1;
  /** Pass 1: the high-bit buckets whose low bits to count, per model. */
  readonly buckets: readonly (readonly number[])[];
  /** Pass 0: per model, whether to count the high bits (four sub-histograms of 32768 bins). */
  readonly highs: readonly boolean[];
  /**
   * Pass 0: per model, high buckets whose low bits to count (one 65536-bin block each), followed
   * by one counter of the elements above them.
   */
  readonly windows: readonly ({ readonly low: number; readonly count: number } | undefined)[];
  readonly rowLength: number;
  readonly rowCount: number;
  readonly chunkElements: number;
}

/**
 * The final pass of the task-arithmetic family: per element, τi = θi − θ0 (or the cached τi),
 * sparsified by its spec, then the consensus or plain sum kernel, encoded to the output.
 */
export interface TaskArithmeticJob {
  readonly base: RawElements;
  readonly models: readonly RawElements[];
  /** Cached deltas (f32, one per model) from the learning passes, when the method kept them. */
  readonly cache?: readonly Float32Array[];
  readonly specs: readonly SparsifierSpec[];
  /**
   * Per row range (`ranges`), per model: top-k ties at the threshold in the rows before the range,
   * when the learning passes counted them (`histograms`); otherwise a counting pass finds them.
   */
  readonly seenBefore?: readonly (readonly number[])[];
  readonly consensus: boolean;
  readonly countSign: boolean;
  readonly normalize: boolean;
  readonly lambda: number;
  readonly weights: Float64Array;
  readonly signFactors: Float64Array;
  readonly divisorFactors: Float64Array;
  /** The sum kernel's divisor. */
  readonly divisor: number;
  readonly output: RawElements;
  readonly rowLength: number;
  readonly rowCount: number;
  readonly chunkElements: number;
}

function sharedRef(elements: RawElements, arena?: MergeArena): SharedArrayRef | undefined {
  const { buffer, byteOffset, length } = elements.array;
  if (!(buffer instanceof SharedArrayBuffer)) return undefined;
  if (arena?.owns(elements.array)) return { dtype: elements.dtype, byteOffset, length, arena: true };
  return { dtype: elements.dtype, buffer, byteOffset, length, arena: false };
}

function sharedCopy(values: Float32Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(values.byteLength);
  new Float32Array(buffer).set(values);
  return buffer;
}

/** f32 values in one chunk buffer: whole rows, about `chunkElements` (at least one row). */
function chunkFloats(rowLength: number, chunkElements: number): number {
  return Math.max(1, Math.floor(chunkElements / Math.max(1, rowLength))) * Math.max(1, rowLength);
}

/** Waits this long without any worker finishing before giving up (a worker that never started). */
const stallMilliseconds = 120_000;

/** A fixed set of row workers, started on first use; `close()` terminates them (call it in finally). */
export class RowWorkerPool {
  private workers: Worker[] = [];
  private ports: MessagePort[] = [];
  private errorPorts: MessagePort[] = [];
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  /** Jobs run on the workers so far (one per large tensor). */
  jobs = 0;
  /** File IO the calling thread does while it waits for the workers (see background-io.ts). */
  background: BackgroundIO | undefined;
  /** Each worker's chunk buffers, in the arena (with one). */
  private readonly scratch: ReusableBuffer[];

  /** With an arena, workers run the SIMD kernels on the arrays that live in it. */
  constructor(
    readonly threads: number,
    readonly arena?: MergeArena,
  ) {
    this.scratch = Array.from({ length: threads }, () => new ReusableBuffer(arena, true));
  }

  /** Worker `worker`'s chunk region of `floats` f32 values, as a job field. */
  private scratchRef(worker: number, floats: number): SharedArrayRef {
    // one more slot at the end: where the counting kernels store their result
    const bytes = this.scratch[worker]!.get((floats + 1) * 4);
    return sharedRef(
      { dtype: 'f32', array: new Float32Array(bytes.buffer, bytes.byteOffset, floats + 1) },
      this.arena,
    )!;
  }

  private ref(elements: RawElements): SharedArrayRef {
    return sharedRef(elements, this.arena)!;
  }

  /** Whether a job over these elements can run here (all of them in SharedArrayBuffers). */
  accepts(inputs: readonly (RawElements | undefined)[], output: RawElements | undefined): boolean {
    return (
      this.threads > 1 &&
      output !== undefined &&
      sharedRef(output) !== undefined &&
      inputs.every((input) => input !== undefined && sharedRef(input) !== undefined)
    );
  }

  private start(): void {
    if (this.workers.length > 0) return;
    const source = workerSource();
    const bf16 = sharedCopy(bf16ToF32Table());
    const f16 = sharedCopy(f16ToF32Table());
    for (let index = 0; index < this.threads; index++) {
      const channel = new MessageChannel();
      const errors = new MessageChannel();
      const worker = new Worker(source, {
        eval: true,
        workerData: {
          port: channel.port2,
          bf16,
          f16,
          control: this.control.buffer,
          errors: errors.port2,
          ...(this.arena ? { memory: this.arena.memory, moduleBytes: mergeKernelModuleBytes() } : {}),
        },
        transferList: [channel.port2, errors.port2],
      });
      worker.unref();
      this.workers.push(worker);
      this.ports.push(channel.port1);
      this.errorPorts.push(errors.port1);
    }
  }

  /** Runs a combination over the workers, row ranges split evenly; returns when all are done. */
  combine(job: CombineJob): void {
    this.start();
    this.jobs++;
    const inputs = job.inputs.map((input) => this.ref(input));
    const output = this.ref(job.output);
    const count = Math.min(this.workers.length, Math.max(1, job.rowCount));
    const capacity = chunkFloats(job.rowLength, job.chunkElements);
    this.run(count, (index) => ({
      type: 'combine',
      scratch: this.scratchRef(index, capacity),
      inputs,
      coefficients: job.coefficients,
      zeroFill: job.zeroFill,
      output,
      rowLength: job.rowLength,
      rowStart: Math.floor((job.rowCount * index) / count),
      rowEnd: Math.floor((job.rowCount * (index + 1)) / count),
      chunkElements: job.chunkElements,
    }));
  }

  /** The task-arithmetic final pass over the workers (a counting pass first when a top-k needs it). */
  /** Whether the workers run the SIMD kernels (the pool has an arena). */
  get simd(): boolean {
    return this.arena !== undefined;
  }

  /**
   * Reads file ranges into arena buffers on the workers (SIMD pools only), the bytes split evenly
   * between them; the calling thread does its background IO meanwhile.
   */
  canRead(into: Uint8Array): boolean {
    return this.arena?.owns(into) ?? false;
  }

  readFiles(pieces: readonly { path: string; offset: number; into: Uint8Array }[]): void {
    const arena = this.arena;
    if (arena === undefined) throw new RowWorkerError('file reads on the workers need the arena');
    for (const piece of pieces)
      if (!arena.owns(piece.into))
        throw new RowWorkerError(`${piece.path}: the read buffer is not in the arena`);
    this.start();
    const total = pieces.reduce((sum, piece) => sum + piece.into.byteLength, 0);
    const count = Math.min(this.workers.length, Math.max(1, Math.ceil(total / (1 << 20))));
    // worker w takes bytes [w·total/count, (w+1)·total/count) of the pieces laid end to end
    const shares = Array.from({ length: count }, () => [] as object[]);
    let start = 0;
    for (const piece of pieces) {
      const end = start + piece.into.byteLength;
      for (let worker = 0; worker < count; worker++) {
        const from = Math.max(start, Math.floor((total * worker) / count));
        const to = Math.min(end, Math.floor((total * (worker + 1)) / count));
        if (to > from)
          shares[worker]!.push({
            path: piece.path,
            position: piece.offset + (from - start),
            pointer: piece.into.byteOffset + (from - start),
            length: to - from,
          });
      }
      start = end;
    }
    this.run(count, (worker) => ({ type: 'read', pieces: shares[worker] }));
  }

  /** Gives back a histogram `histograms` returned. */
  releaseHistogram(histogram: Uint32Array): void {
    this.arena?.returnHistogram(histogram);
  }

  /** The row ranges jobs over `rowCount` rows split into, one per worker taking part. */
  ranges(rowCount: number): { rowStart: number; rowEnd: number }[] {
    const count = Math.min(this.threads, Math.max(1, rowCount));
    return Array.from({ length: count }, (_, index) => ({
      rowStart: Math.floor((rowCount * index) / count),
      rowEnd: Math.floor((rowCount * (index + 1)) / count),
    }));
  }

  /**
   * Counts a learning pass's radix histograms on the workers (SIMD pools only), one row range each
   * (`ranges`). Returns [range][model][slot] histograms borrowed from the arena: give each back
   * with `arena.returnHistogram` once read.
   */
  histograms(job: HistogramJob): Uint32Array[][][] {
    const arena = this.arena;
    if (arena === undefined) throw new RowWorkerError('histogram jobs need the SIMD kernels');
    this.start();
    const ranges = this.ranges(job.rowCount);
    const n = job.models.length;
    const scratchFloats = (n + 2) * chunkFloats(job.rowLength, job.chunkElements);
    // pass 0: four sub-histograms of the 32768 high buckets, then the window's low bits; pass 1:
    // one low-bit histogram per bucket
    const counted = ranges.map(() =>
      job.models.map((_, model) => {
        if (job.pass === 1) return job.buckets[model]!.map(() => arena.borrowHistogram());
        const window = job.windows[model];
        const high = arena.borrowHistogram(job.highs[model] ? 4 * 32768 : 16); // 16: an unused slot
        return window ? [high, arena.borrowHistogram(window.count * 65536 + 1)] : [high];
      }),
    );
    const asRef = (histogram: Uint32Array) =>
      this.ref({
        dtype: 'f32',
        array: new Float32Array(histogram.buffer, histogram.byteOffset, histogram.length),
      });
    const base = this.ref(job.base);
    const models = job.models.map((model) => this.ref(model));
    const cache = job.cache?.map((array) => this.ref({ dtype: 'f32', array }));
    this.run(ranges.length, (worker) => ({
      type: 'histogram',
      base,
      models,
      ...(cache ? { cache } : {}),
      fillCache: job.fillCache,
      pass: job.pass,
      buckets: job.buckets,
      highs: job.highs,
      windows: job.windows,
      histograms: counted[worker]!.map((slots) => slots.map(asRef)),
      ...ranges[worker]!,
      rowLength: job.rowLength,
      chunkElements: job.chunkElements,
      scratch: this.scratchRef(worker, scratchFloats),
    }));
    return counted;
  }

  taskArithmetic(job: TaskArithmeticJob): void {
    this.start();
    this.jobs++;
    const ranges = this.ranges(job.rowCount);
    const count = ranges.length;
    const common = {
      base: this.ref(job.base),
      models: job.models.map((model) => this.ref(model)),
      ...(job.cache ? { cache: job.cache.map((array) => this.ref({ dtype: 'f32', array })) } : {}),
      rowLength: job.rowLength,
      chunkElements: job.chunkElements,
    };
    const n = job.models.length;
    const scratchFloats = (n + 2) * chunkFloats(job.rowLength, job.chunkElements);
    // top-k keeps the first ties at the threshold in element order: each worker starts from the
    // count of ties in the rows before its own
    const seenBefore =
      job.seenBefore?.map((counts) => [...counts]) ??
      ranges.map(() => job.specs.map((spec) => (spec.kind === 'top' ? spec.seen : 0)));
    if (count > 1 && job.seenBefore === undefined && job.specs.some((spec) => spec.kind === 'top')) {
      // only the ranges before the last one need counting; each is split between all workers
      // (piece `slot` = range·count + worker)
      const counts = new SharedArrayBuffer(8 * count * count * n);
      this.run(count, (worker) => ({
        type: 'count',
        ...common,
        scratch: this.scratchRef(worker, scratchFloats),
        specs: job.specs,
        counts,
        pieces: ranges.slice(0, -1).map(({ rowStart, rowEnd }, range) => ({
          rowStart: rowStart + Math.floor(((rowEnd - rowStart) * worker) / count),
          rowEnd: rowStart + Math.floor(((rowEnd - rowStart) * (worker + 1)) / count),
          slot: range * count + worker,
        })),
      }));
      const tallies = new Float64Array(counts);
      for (let range = 1; range < count; range++)
        for (let model = 0; model < n; model++) {
          let ties = 0;
          for (let worker = 0; worker < count; worker++)
            ties += tallies[((range - 1) * count + worker) * n + model]!;
          seenBefore[range]![model] = seenBefore[range - 1]![model]! + ties;
        }
    }
    const output = this.ref(job.output);
    this.run(count, (worker) => ({
      type: 'task',
      ...common,
      scratch: this.scratchRef(worker, scratchFloats),
      ...ranges[worker]!,
      specs: job.specs.map((spec, model) =>
        spec.kind === 'top' ? { ...spec, seen: seenBefore[worker]![model]! } : spec,
      ),
      consensus: job.consensus,
      countSign: job.countSign,
      normalize: job.normalize,
      lambda: job.lambda,
      weights: job.weights,
      signFactors: job.signFactors,
      divisorFactors: job.divisorFactors,
      divisor: job.divisor,
      output,
    }));
  }

  /** Posts one message per worker (0..count-1) and blocks until all have finished. */
  private run(count: number, message: (worker: number) => object): void {
    Atomics.store(this.control, 0, 0);
    Atomics.store(this.control, 1, 0);
    for (let index = 0; index < count; index++) this.ports[index]!.postMessage(message(index));
    let waited = 0;
    for (;;) {
      const done = Atomics.load(this.control, 0);
      if (done >= count) break;
      if (this.background?.step()) continue; // a piece of file IO while the workers compute
      if (Atomics.wait(this.control, 0, done, 100) === 'timed-out') waited += 100;
      else waited = 0;
      if (waited >= stallMilliseconds)
        throw new RowWorkerError(`row workers made no progress for ${waited} ms`);
    }
    if (Atomics.load(this.control, 1) !== 0) {
      const message = this.errorPorts.map((port) => receiveMessageOnPort(port)?.message).find(Boolean);
      throw new RowWorkerError(`row worker failed: ${String(message ?? 'unknown error')}`);
    }
  }

  /** Terminates the workers (safe to call more than once). */
  close(): void {
    for (const port of this.ports) port.close();
    for (const port of this.errorPorts) port.close();
    for (const worker of this.workers) void worker.terminate();
    this.workers = [];
    this.ports = [];
    this.errorPorts = [];
  }
}
