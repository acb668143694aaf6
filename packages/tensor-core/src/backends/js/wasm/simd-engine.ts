// SimdArena: a shared WebAssembly memory holding f32 tensors, the SIMD kernels compiled against it and,
// optionally, worker threads sharing it. Tensors allocated here (`allocateF32`) run matvec with no copy;
// heap arrays handed to `matmul` are packed into the arena's scratch space first (O(n^2) against O(n^3)).
// Memory grows to the largest call and is never returned (WebAssembly memories cannot shrink).
import { f16ToF32Table } from '../../../half';
import { MATMUL_ROWS } from './simd-matmul';
import { MAXIMUM_PAGES, type SimdExports, simdModuleBytes } from './simd-module';
import { Q8_MATMUL_ROWS } from './simd-q8';
import {
  runChunk,
  TASK_MATMUL,
  TASK_MATMUL_Q8,
  TASK_MATVEC,
  TASK_MATVEC_Q8,
  TASK_SUM,
  ThreadPool,
  threadsSupported,
} from './thread-pool';
import { type WasmMemory, type WasmModule, webAssembly } from './webassembly-api';

const PAGE = 65536;
/** k-block of the matmul (floats). */
const KC = 256;
/** Rows of A per matmul chunk (the unit of work a thread claims; A's MC x KC block stays in L2). */
const MC = 128;

/** Matvec rows per chunk: about 256 KiB of weights, so a stalled thread holds up little work. */
function rowsPerChunk(rows: number, cols: number): number {
  return Math.max(16, Math.min(rows, Math.ceil(65536 / Math.max(cols, 1))));
}

const arenas = new WeakMap<ArrayBufferLike, SimdArena>();

/** The arena that owns `array`'s memory, if any. */
export function simdEngineFor(array: ArrayBufferView): SimdArena | undefined {
  return arenas.get(array.buffer);
}

let supported: boolean | undefined;

/** True where WebAssembly SIMD and shared memory both work. */
export function simdSupported(): boolean {
  if (supported === undefined) {
    try {
      const wasm = webAssembly();
      supported =
        wasm !== undefined &&
        typeof SharedArrayBuffer !== 'undefined' &&
        wasm.validate(simdModuleBytes()) &&
        new wasm.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      supported = false;
    }
  }
  return supported === true;
}

let compiled: WasmModule | undefined;

function compiledModule(): WasmModule {
  const wasm = webAssembly();
  if (wasm === undefined) throw new Error('WebAssembly is unavailable here');
  compiled ??= new wasm.Module(simdModuleBytes());
  return compiled;
}

export interface SimdArenaOptions {
  /** Threads that compute (the calling thread counts as one). Default 1. */
  threads?: number;
  /** Bytes to reserve up front. */
  initialBytes?: number;
}

export class SimdArena {
  readonly memory: WasmMemory;
  private readonly kernels: SimdExports;
  private pool: ThreadPool | undefined;
  private top = 64;

  constructor(options: SimdArenaOptions = {}) {
    const wasm = webAssembly();
    if (wasm === undefined) throw new Error('WebAssembly is unavailable here');
    const pages = Math.max(1, Math.ceil((options.initialBytes ?? PAGE) / PAGE));
    this.memory = new wasm.Memory({ initial: pages, maximum: MAXIMUM_PAGES, shared: true });
    arenas.set(this.memory.buffer, this);
    const instance = new wasm.Instance(compiledModule(), { env: { memory: this.memory } });
    const exports = instance.exports;
    this.kernels = {
      matvec: exports.matvec as SimdExports['matvec'],
      matmul: exports.matmul as SimdExports['matmul'],
      sum: exports.sum as SimdExports['sum'],
      matvecQ8: exports.matvecQ8 as SimdExports['matvecQ8'],
      quantizeQ8Input: exports.quantizeQ8Input as SimdExports['quantizeQ8Input'],
      matmulQ8: exports.matmulQ8 as SimdExports['matmulQ8'],
      weightedRowSum: exports.weightedRowSum as SimdExports['weightedRowSum'],
    };
    this.setThreads(options.threads ?? 1);
  }

  /** Threads computing each kernel call (this thread plus threads - 1 workers). */
  get threads(): number {
    return (this.pool?.size ?? 0) + 1;
  }

  setThreads(threads: number): void {
    const workers = Math.max(0, Math.floor(threads) - 1);
    if (workers === (this.pool?.size ?? 0)) return;
    this.pool?.close();
    this.pool = undefined;
    if (workers > 0) {
      if (!threadsSupported()) throw new Error('SimdArena: worker_threads with shared memory is unavailable');
      this.pool = new ThreadPool(compiledModule(), this.memory, workers);
    }
  }

  /** Stops the workers (the memory stays usable single-threaded). */
  close(): void {
    this.setThreads(1);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAXIMUM_PAGES) throw new RangeError('SimdArena: more than 2 GiB requested');
    this.memory.grow(pages);
    arenas.set(this.memory.buffer, this);
  }

  /** A zeroed Float32Array of `count` values living in this arena (64-byte aligned). Never freed. */
  allocateF32(count: number): Float32Array {
    const start = (this.top + 63) & ~63;
    this.ensure(start + count * 4);
    this.top = start + count * 4;
    return new Float32Array(this.memory.buffer, start, count);
  }

  /** A zeroed byte array of `count` bytes in this arena (64-byte aligned), e.g. for q8_0 weights. */
  allocateBytes(count: number): Uint8Array {
    const start = (this.top + 63) & ~63;
    this.ensure(start + count);
    this.top = start + count;
    return new Uint8Array(this.memory.buffer, start, count);
  }

  /** Copies `bytes` (e.g. a q8_0 matrix) into a new arena byte array. */
  copyBytes(bytes: Uint8Array): Uint8Array {
    const array = this.allocateBytes(bytes.length);
    array.set(bytes);
    return array;
  }

  private f16Table: Float32Array | undefined;

  /** Every f16 value as f32, copied into arena memory (the wasm kernels read it) on first q8_0 use. */
  private halfTable(): Float32Array {
    if (this.f16Table === undefined) {
      this.f16Table = this.allocateF32(65536);
      this.f16Table.set(f16ToF32Table());
    }
    return this.f16Table;
  }

  /** Copies `values` into a new arena array. */
  copyF32(values: Float32Array): Float32Array {
    const array = this.allocateF32(values.length);
    array.set(values);
    return array;
  }

  /** Scratch floats after the allocations; valid until the next allocate or kernel call. */
  private scratch(count: number): { pointer: number; view: Float32Array } {
    const start = (this.top + 63) & ~63;
    this.ensure(start + count * 4);
    return { pointer: start, view: new Float32Array(this.memory.buffer, start, count) };
  }

  /** Runs a task's chunks on the pool, or all of them here, in order, when there is no pool. */
  private parallel(task: number, args: readonly number[], units: number, unitsPerChunk: number): void {
    if (units <= 0) return;
    if (this.pool !== undefined && units > unitsPerChunk) {
      this.pool.run(this.kernels, task, args, units, unitsPerChunk);
      return;
    }
    for (let chunk = 0; chunk * unitsPerChunk < units; chunk++) {
      const start = chunk * unitsPerChunk;
      runChunk(this.kernels, task, args, start, Math.min(units, start + unitsPerChunk), chunk);
    }
  }

  private owns(array: ArrayBufferView): boolean {
    return arenas.get(array.buffer) === this;
  }

  /** out = weight x, rows split over the threads. `weight` must live in this arena. */
  matvec(out: Float32Array, weight: Float32Array, x: Float32Array, rows: number, cols: number): void {
    if (!this.owns(weight)) throw new RangeError('SimdArena.matvec: weight is not in this arena');
    const xInside = this.owns(x);
    const outInside = this.owns(out);
    const space = this.scratch((xInside ? 0 : cols) + (outInside ? 0 : rows) + 16);
    const xPointer = xInside ? x.byteOffset : space.pointer;
    if (!xInside) space.view.set(x.subarray(0, cols));
    const outPointer = outInside ? out.byteOffset : space.pointer + (xInside ? 0 : ((cols + 15) & ~15) * 4);
    this.parallel(
      TASK_MATVEC,
      [weight.byteOffset, xPointer, outPointer, cols],
      rows,
      rowsPerChunk(rows, cols),
    );
    if (!outInside) out.set(new Float32Array(this.memory.buffer, outPointer, rows));
  }

  /**
   * out = dequant(weight) x for a q8_0 matrix whose bytes live in this arena (rows x cols, cols % 32 == 0),
   * reading blocks in place; rows split over the threads. x is quantized per 32-block to int16
   * (scale max|x| / 32767, relative error below 2e-5 of the block's largest value) for integer dots.
   */
  matvecQ8_0(out: Float32Array, bytes: Uint8Array, x: Float32Array, rows: number, cols: number): void {
    if (!this.owns(bytes)) throw new RangeError('SimdArena.matvecQ8_0: weight is not in this arena');
    const table = this.halfTable().byteOffset;
    const blocks = cols >> 5;
    // scratch: f32 x, int16 x (cols * 2 bytes), f32 steps (blocks), f32 out (rows)
    const space = this.scratch(cols + (cols >> 1) + blocks + rows + 64);
    space.view.set(x.subarray(0, cols));
    const xqPointer = space.pointer + ((cols * 4 + 63) & ~63);
    const xsPointer = xqPointer + ((cols * 2 + 63) & ~63);
    const outPointer = xsPointer + ((blocks * 4 + 63) & ~63);
    this.kernels.quantizeQ8Input(space.pointer, xqPointer, xsPointer, blocks, 64, 4);
    this.parallel(
      TASK_MATVEC_Q8,
      [bytes.byteOffset, xqPointer, xsPointer, outPointer, blocks, table],
      rows,
      rowsPerChunk(rows, cols),
    );
    out.set(new Float32Array(this.memory.buffer, outPointer, rows));
  }

  /**
   * out[m, n] = a[m, k] dequant(weight)^T for a q8_0 weight [n, k] living in this arena (k % 32 == 0):
   * the prompt-sized product. a's rows are quantized per 32-block to int16 (as in matvecQ8_0) in tiles of
   * four, and the integer kernel reads each weight block once per tile; weight rows split over the threads.
   */
  matmulQ8_0(out: Float32Array, a: Float32Array, bytes: Uint8Array, m: number, n: number, k: number): void {
    if (!this.owns(bytes)) throw new RangeError('SimdArena.matmulQ8_0: weight is not in this arena');
    const table = this.halfTable().byteOffset;
    const blocks = k >> 5;
    const tiles = Math.ceil(m / Q8_MATMUL_ROWS);
    const padded = tiles * Q8_MATMUL_ROWS;
    // scratch: one f32 input row, int16 rows (2k bytes each), f32 steps (blocks each), f32 out [padded, n]
    const space = this.scratch(k + (padded * k) / 2 + padded * blocks + padded * n + 64);
    const xqPointer = space.pointer + ((k * 4 + 63) & ~63);
    const xsPointer = xqPointer + padded * k * 2;
    const outPointer = xsPointer + ((padded * blocks * 4 + 63) & ~63);
    const row = space.view.subarray(0, k);
    for (let i = 0; i < padded; i++) {
      if (i < m) row.set(a.subarray(i * k, (i + 1) * k));
      else row.fill(0);
      const tile = Q8_MATMUL_ROWS;
      const slot = Math.floor(i / tile) * blocks * tile + (i % tile);
      this.kernels.quantizeQ8Input(
        space.pointer,
        xqPointer + slot * 64,
        xsPointer + slot * 4,
        blocks,
        tile * 64,
        tile * 4,
      );
    }
    this.parallel(
      TASK_MATMUL_Q8,
      [bytes.byteOffset, xqPointer, xsPointer, outPointer, blocks, table, tiles, n],
      n,
      32,
    );
    out.set(new Float32Array(this.memory.buffer, outPointer, m * n));
  }

  /**
   * Single-query attention of `group` query heads sharing one key/value head (GQA), on this thread:
   * for g in [0, group), head h = firstHead + g reads q[h * headDim, (h + 1) * headDim) and
   * scores[g * length + j] = softmax_j(scale * q_h · keys[j]), out[h * headDim + d] += sum_j
   * scores[g * length + j] * values[j * headDim + d]. keys and values are [length, headDim] rows that
   * may live anywhere (copied into scratch once for the whole group); headDim % 16 == 0.
   */
  attendSingleQuery(
    out: Float32Array,
    q: Float32Array,
    firstHead: number,
    group: number,
    keys: Float32Array,
    values: Float32Array,
    length: number,
    headDim: number,
    scale: number,
    scores: Float32Array,
  ): void {
    if (headDim % 16 !== 0)
      throw new RangeError('SimdArena.attendSingleQuery: headDim must be a multiple of 16');
    const rows = length * headDim;
    const paddedLength = (length + 15) & ~15;
    // scratch (floats): keys, values, one query, one score row, one output row
    const space = this.scratch(2 * rows + paddedLength + 2 * headDim);
    const view = space.view;
    const valuesAt = rows;
    const queryAt = 2 * rows;
    const scoresAt = queryAt + headDim;
    const outAt = scoresAt + paddedLength;
    view.set(keys.subarray(0, rows));
    view.set(values.subarray(0, rows), valuesAt);
    const base = space.pointer;
    for (let g = 0; g < group; g++) {
      const qo = (firstHead + g) * headDim;
      view.set(q.subarray(qo, qo + headDim), queryAt);
      this.kernels.matvec(base, base + queryAt * 4, base + scoresAt * 4, 0, length, headDim);
      const so = g * length;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < length; j++) {
        const score = view[scoresAt + j] * scale;
        scores[so + j] = score;
        if (score > max) max = score;
      }
      let sum = 0;
      for (let j = 0; j < length; j++) {
        const e = Math.exp(scores[so + j] - max);
        scores[so + j] = e;
        sum += e;
      }
      const inverse = 1 / sum;
      for (let j = 0; j < length; j++) {
        const weight = scores[so + j] * inverse;
        scores[so + j] = weight;
        view[scoresAt + j] = weight;
      }
      this.kernels.weightedRowSum(
        base + valuesAt * 4,
        base + scoresAt * 4,
        base + outAt * 4,
        length,
        headDim,
      );
      for (let d = 0; d < headDim; d++) out[qo + d] += view[outAt + d];
    }
  }

  /**
   * The f32 sum of `values` (which must live in this arena), read once as a stream split over the threads:
   * the benchmark's read-only memory bandwidth probe. Summation order differs from a sequential loop.
   */
  sum(values: Float32Array): number {
    if (!this.owns(values)) throw new RangeError('SimdArena.sum: values are not in this arena');
    const blocks = values.length >> 4;
    const perChunk = Math.max(1024, Math.ceil(blocks / 64));
    const chunks = Math.ceil(blocks / perChunk);
    const space = this.scratch(Math.max(chunks, 1));
    this.parallel(TASK_SUM, [values.byteOffset, space.pointer], blocks, perChunk);
    const partial = new Float32Array(this.memory.buffer, space.pointer, chunks);
    let total = 0;
    for (let i = 0; i < chunks; i++) total += partial[i];
    for (let i = blocks << 4; i < values.length; i++) total += values[i];
    return total;
  }

  /**
   * out[m, n] = a[m, k] b[k, n] (or b[n, k] transposed when transposeB). Inputs may live anywhere:
   * they are packed into scratch panels, and row blocks are split over the threads.
   */
  matmul(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array,
    m: number,
    n: number,
    k: number,
    transposeB: boolean,
  ): void {
    const nPadded = (n + 7) & ~7;
    this.runMatmul(out, a, m, n, k, (packed, offset) => {
      packed.fill(0, offset, offset + nPadded * k);
      if (transposeB) {
        for (let j = 0; j < n; j++) {
          const panel = offset + (j >> 3) * k * 8 + (j & 7);
          const row = j * k;
          for (let p = 0; p < k; p++) packed[panel + p * 8] = b[row + p];
        }
      } else {
        for (let p = 0; p < k; p++) {
          const row = p * n;
          for (let j = 0; j < n; j++) packed[offset + (j >> 3) * k * 8 + p * 8 + (j & 7)] = b[row + j];
        }
      }
    });
  }

  /** Packs A, lets `packB` fill B's panels (at float `offset` of the scratch view), runs the kernel. */
  private runMatmul(
    out: Float32Array,
    a: Float32Array,
    m: number,
    n: number,
    k: number,
    packB: (packed: Float32Array, offset: number) => void,
  ): void {
    const R = MATMUL_ROWS;
    const mPadded = Math.ceil(m / R) * R;
    const nPadded = (n + 7) & ~7;
    const aCount = mPadded * k;
    const bCount = nPadded * k;
    const space = this.scratch(aCount + bCount + mPadded * nPadded);
    const packed = space.view;
    packed.fill(0, (m - (m % R)) * k, aCount);
    for (let i = 0; i < m; i++) {
      const block = Math.floor(i / R) * k * R + (i % R);
      const row = i * k;
      for (let p = 0; p < k; p++) packed[block + p * R] = a[row + p];
    }
    packB(packed, aCount);
    const aPointer = space.pointer;
    const bPointer = aPointer + aCount * 4;
    const cPointer = bPointer + bCount * 4;
    // Cache blocking: k in blocks of KC (a B micro-panel of KC x 8 floats stays in L1) and rows in blocks of
    // MC per thread (A's KC x MC block stays in L2); C accumulates over the k blocks.
    const blocks = mPadded / R;
    for (let p0 = 0; p0 < k; p0 += KC) {
      const args = [
        aPointer + p0 * R * 4,
        bPointer + p0 * 32,
        cPointer,
        nPadded,
        Math.min(KC, k - p0),
        k * R * 4,
        k * 32,
        p0 > 0 ? 1 : 0,
        R * nPadded * 4,
        R,
      ];
      this.parallel(TASK_MATMUL, args, blocks, Math.max(1, Math.floor(MC / R)));
    }
    const c = new Float32Array(this.memory.buffer, cPointer, mPadded * nPadded);
    if (nPadded === n) out.set(c.subarray(0, m * n));
    else for (let i = 0; i < m; i++) out.set(c.subarray(i * nPadded, i * nPadded + n), i * n);
  }
}

/** Creates an arena for weights that the SIMD matvec should read in place. */
export function createSimdArena(options: SimdArenaOptions = {}): SimdArena {
  if (!simdSupported()) throw new Error('WebAssembly SIMD with shared memory is unavailable here');
  return new SimdArena(options);
}

let shared: SimdArena | undefined;

/** The process-wide arena used by matmulF32 for heap arrays (created on first use). */
export function defaultSimdArena(): SimdArena | undefined {
  if (shared === undefined && simdSupported()) shared = new SimdArena();
  return shared;
}

/** Threads used by matmulF32's SIMD path (default 1). */
export function setKernelThreads(threads: number): void {
  defaultSimdArena()?.setThreads(threads);
}
