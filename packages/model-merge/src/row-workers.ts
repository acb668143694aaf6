// Row workers: worker_threads that split a large tensor's rows between them. Inputs and output live in
// SharedArrayBuffers (the main thread reads the inputs into them and writes the output shard); each
// worker runs the same fused per-chunk kernels as the single-threaded path (their source is the very
// functions of tensor-view.ts and tensor-core, not a copy), so the output bytes are identical.
// mergeModels stays synchronous: the main thread posts one job per worker and blocks in Atomics.wait
// until every worker has counted itself done; errors come back through a port polled synchronously.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import {
  bf16ToF32Table,
  decodeBf16Into,
  encodeBf16Into,
  encodeF16Into,
  f16ToF32Table,
  MeldError,
} from '@meld/tensor-core';
import type { BackgroundIO } from './background-io';
import { type MergeArena, ReusableBuffer } from './merge-arena';
import { applyTopK, countEqualMagnitude, type SparsifierSpec } from './methods/sparsify';
import { consensusKernel, sumKernel } from './methods/task-arithmetic';
import { applyBernoulli, applyDella, mix32, normalisedRowRanks, uniformAt } from './random';
import { mergeKernelModuleBytes } from './simd/kernels';
import {
  addScaled,
  addScaledWords,
  type RawElements,
  setScaled,
  setScaledWords,
  subtractInto,
  subtractWordsInto,
} from './tensor-view';

export class RowWorkerError extends MeldError {
  constructor(message: string) {
    super('row-worker', message);
    this.name = 'RowWorkerError';
  }
}

interface SharedArrayRef {
  readonly dtype: 'bf16' | 'f16' | 'f32';
  /** Absent for arrays in the arena: workers see its memory already (posting it again costs ~1 ms a message). */
  readonly buffer?: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  /** The array lives in the pool's MergeArena: byteOffset is the SIMD kernels' pointer. */
  readonly arena: boolean;
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

/** The body of every worker (plain JS once compiled: it refers to nothing outside its parameters). */
function workerMain(
  port: MessagePort,
  tables: { bf16: Float32Array; f16: Float32Array },
  control: Int32Array,
  // biome-ignore lint/suspicious/noExplicitAny: the kernels arrive as source text, typed at their definitions
  kernels: Record<string, (...args: any[]) => any>,
  errors: MessagePort,
  // biome-ignore lint/suspicious/noExplicitAny: the SIMD kernels' exports (simd/kernels.ts types them)
  wasm: any,
  // biome-ignore lint/suspicious/noExplicitAny: the arena's WebAssembly.Memory (absent without SIMD)
  memory: any,
  // biome-ignore lint/suspicious/noExplicitAny: node:fs, required by the worker's prelude
  fs: any,
): void {
  // the arena's current SharedArrayBuffer (a grown memory hands out a new, longer one)
  let arenaBuffer: SharedArrayBuffer | undefined;
  const bufferOf = (ref: SharedArrayRef): SharedArrayBuffer => {
    if (ref.buffer) return ref.buffer;
    if (
      arenaBuffer === undefined ||
      arenaBuffer.byteLength < ref.byteOffset + ref.length * (ref.dtype === 'f32' ? 4 : 2)
    )
      arenaBuffer = memory.buffer as SharedArrayBuffer;
    return arenaBuffer;
  };
  let chunk: Float32Array = new Float32Array(0);
  let baseChunk: Float32Array = new Float32Array(0);
  let deltaChunks: Float32Array[] = [];
  // with the SIMD kernels, the chunk buffers are this worker's region of the arena (job.scratch)
  const arenaChunks = (scratch: SharedArrayRef, count: number, capacity: number): Float32Array[] =>
    Array.from(
      { length: count },
      (_, index) => new Float32Array(bufferOf(scratch), scratch.byteOffset + index * capacity * 4, capacity),
    );
  const simd = (refs: SharedArrayRef[]): boolean => wasm !== undefined && refs.every((ref) => ref.arena);
  const open = (ref: SharedArrayRef): Uint16Array | Float32Array =>
    ref.dtype === 'f32'
      ? new Float32Array(bufferOf(ref), ref.byteOffset, ref.length)
      : new Uint16Array(bufferOf(ref), ref.byteOffset, ref.length);
  const tableOf = (ref: SharedArrayRef) => (ref.dtype === 'bf16' ? tables.bf16 : tables.f16);
  const encode = (
    ref: SharedArrayRef,
    output: Uint16Array | Float32Array,
    start: number,
    out: Float32Array,
    useSimd: boolean,
  ) => {
    if (ref.dtype === 'f32') (output as Float32Array).set(out, start);
    else if (useSimd && ref.dtype === 'bf16')
      wasm.encodeBf16(ref.byteOffset + 2 * start, out.byteOffset, out.length);
    else {
      const words = (output as Uint16Array).subarray(start, start + out.length);
      if (ref.dtype === 'bf16') kernels.encodeBf16Into!(out, words);
      else kernels.encodeF16Into!(out, words);
    }
  };
  // biome-ignore lint/suspicious/noExplicitAny: messages are plain data built by RowWorkerPool
  const combine = (job: any) => {
    const inputs = (job.inputs as SharedArrayRef[]).map(open);
    const output = open(job.output);
    const rowLength = job.rowLength as number;
    const rowsPerChunk = Math.max(1, Math.floor(job.chunkElements / Math.max(1, rowLength)));
    const useSimd = simd([...job.inputs, job.output, job.scratch]);
    let buffer = chunk;
    if (useSimd) buffer = arenaChunks(job.scratch, 1, rowsPerChunk * rowLength)[0]!;
    else if (chunk.length < rowsPerChunk * rowLength)
      buffer = chunk = new Float32Array(rowsPerChunk * rowLength);
    for (let rowStart = job.rowStart; rowStart < job.rowEnd; rowStart += rowsPerChunk) {
      const rowEnd = Math.min(job.rowEnd, rowStart + rowsPerChunk);
      const start = rowStart * rowLength;
      const out = buffer.subarray(0, (rowEnd - rowStart) * rowLength);
      if (job.zeroFill) out.fill(0);
      for (let index = 0; index < inputs.length; index++) {
        const first = index === 0 && !job.zeroFill;
        const c = job.coefficients[index] as number;
        const ref = job.inputs[index] as SharedArrayRef;
        const input = inputs[index]!;
        if (useSimd && ref.dtype !== 'f16') {
          const pointer = ref.byteOffset + start * (ref.dtype === 'f32' ? 4 : 2);
          if (ref.dtype === 'f32')
            (first ? wasm.scaleF32 : wasm.axpyF32)(out.byteOffset, pointer, out.length, c);
          else (first ? wasm.scaleBf16 : wasm.axpyBf16)(out.byteOffset, pointer, out.length, c);
        } else if (ref.dtype === 'f32') {
          if (first) kernels.setScaled!(out, c, input, start);
          else kernels.addScaled!(out, c, input, start);
        } else if (first) kernels.setScaledWords!(out, c, input, start, tableOf(ref));
        else kernels.addScaledWords!(out, c, input, start, tableOf(ref));
      }
      encode(job.output, output, start, out, useSimd);
    }
  };
  // biome-ignore lint/suspicious/noExplicitAny: messages are plain data built by RowWorkerPool
  const taskArithmetic = (job: any, countOnly: boolean) => {
    const baseRef = job.base as SharedArrayRef;
    const base = open(baseRef);
    const modelRefs = job.models as SharedArrayRef[];
    const models = modelRefs.map(open);
    const cache = job.cache ? (job.cache as SharedArrayRef[]).map(open) : undefined;
    const output = countOnly ? undefined : open(job.output);
    const rowLength = job.rowLength as number;
    const rowsPerChunk = Math.max(1, Math.floor(job.chunkElements / Math.max(1, rowLength)));
    const capacity = rowsPerChunk * rowLength;
    const useSimd = simd([
      baseRef,
      ...modelRefs,
      ...(job.cache ?? []),
      ...(countOnly ? [] : [job.output]),
      job.scratch,
    ]);
    let [outChunk, bChunk, dChunks]: [Float32Array, Float32Array, Float32Array[]] = [
      chunk,
      baseChunk,
      deltaChunks,
    ];
    // the i32 the counting kernels store their result in: the scratch region's last slot
    const resultPointer = job.scratch.byteOffset + (job.scratch.length - 1) * 4;
    if (useSimd) {
      const chunks = arenaChunks(job.scratch, models.length + 2, capacity);
      [outChunk, bChunk, dChunks] = [chunks[0]!, chunks[1]!, chunks.slice(2)];
    } else {
      if (chunk.length < capacity) outChunk = chunk = new Float32Array(capacity);
      if (baseChunk.length < capacity) bChunk = baseChunk = new Float32Array(capacity);
      if (deltaChunks.length < models.length || (deltaChunks[0]?.length ?? 0) < capacity)
        dChunks = deltaChunks = models.map(() => new Float32Array(capacity));
    }
    const specs = job.specs as {
      kind: string;
      last: number;
      quota: number;
      seen: number;
      factor: number;
      key: number;
      density: number;
      epsilon: number;
      inverse: boolean;
    }[];
    const seen = specs.map((spec) => spec.seen ?? 0);
    const counts = new Float64Array(models.length);
    for (let rowStart = job.rowStart; rowStart < job.rowEnd; rowStart += rowsPerChunk) {
      const rowEnd = Math.min(job.rowEnd, rowStart + rowsPerChunk);
      const start = rowStart * rowLength;
      const length = (rowEnd - rowStart) * rowLength;
      const b = bChunk.subarray(0, length);
      if (!(countOnly && cache)) {
        if (baseRef.dtype === 'f32') b.set((base as Float32Array).subarray(start, start + length));
        else if (useSimd && baseRef.dtype === 'bf16')
          wasm.decodeBf16(b.byteOffset, baseRef.byteOffset + 2 * start, length);
        else if (baseRef.dtype === 'bf16')
          kernels.decodeBf16Into!((base as Uint16Array).subarray(start, start + length), b);
        else for (let i = 0; i < length; i++) b[i] = tables.f16[base[start + i]!]!;
      }
      const sparse: Float32Array[] = [];
      for (let index = 0; index < models.length; index++) {
        let delta: Float32Array;
        if (cache) delta = (cache[index] as Float32Array).subarray(start, start + length);
        else {
          delta = dChunks[index]!.subarray(0, length);
          const ref = modelRefs[index]!;
          if (useSimd && ref.dtype === 'f32')
            wasm.subF32(delta.byteOffset, ref.byteOffset + 4 * start, b.byteOffset, length);
          else if (useSimd && ref.dtype === 'bf16')
            wasm.subBf16(delta.byteOffset, ref.byteOffset + 2 * start, b.byteOffset, length);
          else if (ref.dtype === 'f32') kernels.subtractInto!(delta, models[index], start, b);
          else kernels.subtractWordsInto!(delta, models[index], start, tableOf(ref), b);
        }
        const spec = specs[index]!;
        if (countOnly) {
          if (spec.kind === 'top')
            if (useSimd) {
              wasm.countEqualMagnitude(delta.byteOffset, length, spec.last, resultPointer);
              counts[index]! += new Int32Array(bufferOf(job.scratch), resultPointer, 1)[0]!;
            } else counts[index]! += kernels.countEqualMagnitude!(delta, spec.last);
          continue;
        }
        if (spec.kind === 'top' && useSimd) {
          wasm.applyTopK(
            delta.byteOffset,
            length,
            spec.last,
            spec.quota,
            seen[index],
            spec.factor,
            resultPointer,
          );
          seen[index] = new Int32Array(bufferOf(job.scratch), resultPointer, 1)[0]!;
        } else if (spec.kind === 'top')
          seen[index] = kernels.applyTopK!(delta, spec.last, spec.quota, seen[index], spec.factor);
        else if (spec.kind === 'bernoulli')
          kernels.applyBernoulli!(delta, start, spec.key, spec.density, spec.factor);
        else if (spec.kind === 'della')
          kernels.applyDella!(
            delta,
            start,
            rowLength,
            spec.key,
            spec.density,
            spec.epsilon,
            spec.factor,
            spec.inverse,
          );
        sparse.push(delta);
      }
      if (countOnly) continue;
      const out = outChunk.subarray(0, length);
      if (job.consensus && useSimd && sparse.length === 2 && !job.countSign)
        wasm.consensus2(
          out.byteOffset,
          b.byteOffset,
          sparse[0]!.byteOffset,
          sparse[1]!.byteOffset,
          length,
          job.signFactors[0],
          job.signFactors[1],
          job.weights[0],
          job.weights[1],
          job.divisorFactors[0],
          job.divisorFactors[1],
          job.normalize ? 1 : 0,
          job.lambda,
        );
      else if (job.consensus)
        kernels.consensusKernel!(
          out,
          b,
          sparse,
          job.signFactors,
          job.weights,
          job.divisorFactors,
          job.countSign,
          job.normalize,
          job.lambda,
        );
      else if (useSimd) {
        const scale = job.lambda / (Math.abs(job.divisor) < 1e-8 ? 1 : job.divisor);
        out.set(b);
        for (let index = 0; index < sparse.length; index++)
          wasm.axpyF32(
            out.byteOffset,
            sparse[index]!.byteOffset,
            length,
            Math.fround(scale * job.weights[index]),
          );
      } else kernels.sumKernel!(out, b, sparse, job.weights, job.divisor, job.lambda);
      encode(job.output, output!, start, out, useSimd);
    }
    if (countOnly) new Float64Array(job.counts).set(counts, job.slot * models.length);
  };
  // biome-ignore lint/suspicious/noExplicitAny: messages are plain data built by RowWorkerPool
  const histogram = (job: any) => {
    // radix histograms of τ = θ − θ0 over this worker's rows (SIMD kernels only): pass 0 counts
    // the high 16 bits of |τ| (filling the delta cache on the way), pass 1 the low 16 bits of the
    // elements in each wanted bucket
    const baseRef = job.base as SharedArrayRef;
    const modelRefs = job.models as SharedArrayRef[];
    const cacheRefs = job.cache as SharedArrayRef[] | undefined;
    const histograms = (job.histograms as SharedArrayRef[][]).map((slots) =>
      slots.map((ref) => ref.byteOffset),
    );
    const buckets = job.buckets as number[][];
    const windows = job.windows as ({ low: number; count: number } | undefined)[];
    const highs = job.highs as boolean[];
    const rowLength = job.rowLength as number;
    const rowsPerChunk = Math.max(1, Math.floor(job.chunkElements / Math.max(1, rowLength)));
    const capacity = rowsPerChunk * rowLength;
    const chunks = arenaChunks(job.scratch, modelRefs.length + 2, capacity);
    const b = chunks[1]!;
    const cached = cacheRefs !== undefined && !job.fillCache;
    for (let rowStart = job.rowStart; rowStart < job.rowEnd; rowStart += rowsPerChunk) {
      const rowEnd = Math.min(job.rowEnd, rowStart + rowsPerChunk);
      const start = rowStart * rowLength;
      const length = (rowEnd - rowStart) * rowLength;
      if (!cached) {
        if (baseRef.dtype === 'f32')
          b.set(new Float32Array(bufferOf(baseRef), baseRef.byteOffset + 4 * start, length));
        else wasm.decodeBf16(b.byteOffset, baseRef.byteOffset + 2 * start, length);
      }
      for (let model = 0; model < modelRefs.length; model++) {
        const ref = modelRefs[model]!;
        const delta = cacheRefs ? cacheRefs[model]!.byteOffset + 4 * start : chunks[model + 2]!.byteOffset;
        if (!cached) {
          if (ref.dtype === 'f32') wasm.subF32(delta, ref.byteOffset + 4 * start, b.byteOffset, length);
          else wasm.subBf16(delta, ref.byteOffset + 2 * start, b.byteOffset, length);
        }
        const slots = histograms[model]!;
        if (job.pass === 0) {
          if (highs[model]) wasm.histHighSplit(slots[0], delta, length);
          const window = windows[model];
          if (window) wasm.histLowRangeAbove(slots[1], delta, length, window.low, window.count);
        } else
          for (let r = 0; r < slots.length; r++) wasm.histLow(slots[r], delta, length, buckets[model]![r]);
      }
    }
    // pass 0 counted into four sub-histograms: their totals into the first 32768 counters
    if (job.pass === 0)
      for (const [model, slots] of histograms.entries()) if (highs[model]) wasm.histHighFold(slots[0]);
  };
  // biome-ignore lint/suspicious/noExplicitAny: messages are plain data built by RowWorkerPool
  const read = (job: any) => {
    // file ranges straight into the arena: this worker's share of the next task's inputs
    const fds = new Map<string, number>();
    try {
      for (const piece of job.pieces as {
        path: string;
        position: number;
        pointer: number;
        length: number;
      }[]) {
        let fd = fds.get(piece.path);
        if (fd === undefined) {
          fd = fs.openSync(piece.path, 'r') as number;
          fds.set(piece.path, fd);
        }
        const into = new Uint8Array(memory.buffer, piece.pointer, piece.length);
        let done = 0;
        while (done < piece.length) {
          const count = fs.readSync(
            fd,
            into,
            done,
            Math.min(piece.length - done, 1 << 30),
            piece.position + done,
          );
          if (count === 0)
            throw new Error(`${piece.path}: unexpected end of file at byte ${piece.position + done}`);
          done += count;
        }
      }
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
  };
  port.on(
    'message',
    (job: { type: string; pieces?: { rowStart: number; rowEnd: number; slot: number }[] }) => {
      try {
        if (job.type === 'combine') combine(job);
        else if (job.type === 'histogram') histogram(job);
        else if (job.type === 'read') read(job);
        else if (job.type === 'count')
          for (const piece of job.pieces!) taskArithmetic({ ...job, ...piece }, true);
        else taskArithmetic(job, false);
      } catch (error) {
        errors.postMessage(String(error instanceof Error ? (error.stack ?? error.message) : error));
        Atomics.store(control, 1, 1);
      }
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
    },
  );
}

function workerSource(): string {
  // Function declarations keep the names they have in this build (a bundler may rename them), so
  // the calls between them (applyBernoulli → uniformAt → mix32) resolve inside the worker too.
  const kernels = {
    setScaled,
    addScaled,
    setScaledWords,
    addScaledWords,
    subtractInto,
    subtractWordsInto,
    decodeBf16Into,
    encodeBf16Into,
    encodeF16Into,
    applyTopK,
    countEqualMagnitude,
    applyBernoulli,
    applyDella,
    consensusKernel,
    sumKernel,
  };
  const helpers = [mix32, uniformAt, normalisedRowRanks];
  const entries = Object.entries(kernels).map(([name, f]) => `${name}: ${f.name}`);
  return [
    "const { workerData } = require('node:worker_threads');",
    "const fs = require('node:fs');",
    ...[...helpers, ...Object.values(kernels)].map((f) => f.toString()),
    `const kernels = { ${entries.join(', ')} };`,
    'const wasm = workerData.memory ? new WebAssembly.Instance(new WebAssembly.Module(workerData.moduleBytes), { env: { memory: workerData.memory } }).exports : undefined;',
    `(${workerMain.toString()})(workerData.port, { bf16: new Float32Array(workerData.bf16), f16: new Float32Array(workerData.f16) }, new Int32Array(workerData.control), kernels, workerData.errors, wasm, workerData.memory, fs);`,
  ].join('\n');
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
