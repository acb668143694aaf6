// The code every row worker runs: a job runner over shared memory (combine, the task-arithmetic
// passes, radix histograms, file reads), started from source text. `workerSource()` assembles that
// text from the very kernel functions the calling thread uses (tensor-view.ts, sparsify.ts,
// random.ts, task-arithmetic.ts, tensor-core), so a worker cannot compute differently; the SIMD
// kernels come as the module's bytes and are instantiated on the arena's memory.
import type { MessagePort } from 'node:worker_threads';
import { decodeBf16Into, encodeBf16Into, encodeF16Into } from '@meld/tensor-core';
import { applyTopK, countEqualMagnitude } from './methods/sparsify';
import { consensusKernel, sumKernel } from './methods/task-arithmetic';
import { applyBernoulli, applyDella, mix32, normalisedRowRanks, uniformAt } from './random';
import {
  addScaled,
  addScaledWords,
  setScaled,
  setScaledWords,
  subtractInto,
  subtractWordsInto,
} from './tensor-view';

/** An array in shared memory, as a job message carries it. */
export interface SharedArrayRef {
  readonly dtype: 'bf16' | 'f16' | 'f32';
  /** Absent for arrays in the arena: workers see its memory already (posting it again costs ~1 ms a message). */
  readonly buffer?: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  /** The array lives in the pool's MergeArena: byteOffset is the SIMD kernels' pointer. */
  readonly arena: boolean;
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

/** The worker script: its kernels' source, then the job runner started on workerData. */
export function workerSource(): string {
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
