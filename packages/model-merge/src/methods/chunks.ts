// Row-chunk helpers shared by the methods.
import type { RowWorkerPool } from '../row-workers';
import type { ScratchPool } from '../scratch-pool';
import {
  accumulateRows,
  type RawElements,
  readRowsInto,
  rowChunks,
  type TensorOutput,
  type TensorView,
} from '../tensor-view';

/** Tensors smaller than this stay on the calling thread (a job round trip costs more than the work). */
export const rowWorkerMinimumElements = 1 << 19;

export interface ChunkGeometry {
  readonly shape: readonly number[];
  readonly chunkElements: number;
  readonly models: readonly TensorView[];
  readonly base?: TensorView;
}

export function geometryOf(context: ChunkGeometry): { size: number; rowLength: number; rowCount: number } {
  const first = context.base ?? context.models[0];
  if (!first) return { size: 0, rowLength: 0, rowCount: 0 };
  return { size: first.size, rowLength: first.rowLength, rowCount: first.rowCount };
}

/** Calls `visit` for every row chunk of the tensor. */
export function forEachChunk(
  context: ChunkGeometry,
  visit: (rowStart: number, rowEnd: number, elementOffset: number) => void,
): void {
  const { rowLength, rowCount } = geometryOf(context);
  for (const { rowStart, rowEnd } of rowChunks(rowCount, rowLength, context.chunkElements)) {
    visit(rowStart, rowEnd, rowStart * rowLength);
  }
}

/** θ - θ0 for rows [rowStart, rowEnd) as a new array (θ itself, copied, when there is no base). */
export function readDelta(
  view: TensorView,
  base: TensorView | undefined,
  rowStart: number,
  rowEnd: number,
): Float32Array {
  const values = view.read(rowStart, rowEnd);
  if (!base && view.fresh) return values;
  const out = view.fresh ? values : new Float32Array(values.length);
  if (!base) {
    out.set(values);
    return out;
  }
  const baseValues = base.read(rowStart, rowEnd);
  for (let i = 0; i < out.length; i++) out[i] = values[i]! - baseValues[i]!;
  return out;
}

/**
 * θ − θ0 for rows [rowStart, rowEnd) given the base chunk already decoded. With `into` (at least
 * one chunk long) the delta is decoded and subtracted in one pass into it, without allocating.
 */
export function deltaOf(
  view: TensorView,
  baseValues: Float32Array,
  rowStart: number,
  rowEnd: number,
  into?: Float32Array,
): Float32Array {
  if (into) return readRowsInto(view, rowStart, rowEnd, into, baseValues);
  const values = view.read(rowStart, rowEnd);
  const out = view.fresh ? values : new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = values[i]! - baseValues[i]!;
  return out;
}

/** Elements in the largest row chunk of a tensor (the size of a reusable chunk buffer). */
export function chunkCapacity(context: ChunkGeometry): number {
  const { size, rowLength } = geometryOf(context);
  const rowsPerChunk = Math.max(1, Math.floor(context.chunkElements / Math.max(1, rowLength)));
  return Math.min(size, rowsPerChunk * Math.max(1, rowLength));
}

/** Gram matrix G[i][j] = <x_i, x_j> (float64) of the deltas (or of the tensors when base is undefined). */
export function gramMatrix(context: ChunkGeometry, base: TensorView | undefined): number[][] {
  const n = context.models.length;
  const gram = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  forEachChunk(context, (rowStart, rowEnd) => {
    const deltas = context.models.map((view) => readDelta(view, base, rowStart, rowEnd));
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const a = deltas[i]!;
        const b = deltas[j]!;
        let sum = 0;
        for (let k = 0; k < a.length; k++) sum += a[k]! * b[k]!;
        gram[i]![j]! += sum;
      }
    }
  });
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[i]![j] = gram[j]![i]!;
  return gram;
}

/** out += c·x (top level so V8 optimises it once for all callers). */
export function axpy(out: Float32Array, c: number, x: Float32Array): void {
  for (let k = 0; k < out.length; k++) out[k]! += c * x[k]!;
}

/**
 * Writes base·baseCoefficient + Σ coefficients[i]·(θi − θ0 if subtractBase) chunk by chunk: one
 * reused chunk buffer, each model decoded and accumulated in one pass (no per-chunk allocation).
 * The output must copy or encode what it is given (it is the same buffer every chunk).
 */
export function writeCombination(
  context: ChunkGeometry & { output: TensorOutput; rowWorkers?: RowWorkerPool; scratch?: ScratchPool },
  coefficients: readonly number[],
  options: { subtractBase: boolean; baseCoefficient: number },
): void {
  const base = context.base;
  const { size, rowLength, rowCount } = geometryOf(context);
  let baseFactor = options.baseCoefficient;
  if (options.subtractBase && base)
    for (const c of coefficients.slice(0, context.models.length)) baseFactor -= c;
  // large tensors: the same per-element arithmetic, rows split between worker threads
  const withBase = base !== undefined && baseFactor !== 0;
  const raws: (RawElements | undefined)[] = context.models.map((view) => view.raw);
  if (withBase) raws.push(base.raw);
  const pool = context.rowWorkers;
  if (pool && size >= rowWorkerMinimumElements && raws.length > 0 && pool.accepts(raws, context.output.raw)) {
    pool.combine({
      inputs: raws as RawElements[],
      coefficients: [...coefficients.slice(0, context.models.length), ...(withBase ? [baseFactor] : [])],
      zeroFill: context.models.length === 0,
      output: context.output.raw!,
      rowLength,
      rowCount,
      chunkElements: context.chunkElements,
    });
    return;
  }
  const capacity = chunkCapacity(context);
  const buffer = context.scratch?.chunks(1, capacity)[0] ?? new Float32Array(capacity);
  forEachChunk(context, (rowStart, rowEnd) => {
    const out = buffer.subarray(0, (rowEnd - rowStart) * rowLength);
    if (context.models.length === 0) out.fill(0);
    for (let index = 0; index < context.models.length; index++) {
      accumulateRows(context.models[index]!, rowStart, rowEnd, coefficients[index]!, out, index === 0);
    }
    if (base && baseFactor !== 0) accumulateRows(base, rowStart, rowEnd, baseFactor, out);
    context.output.write(rowStart, out);
  });
}
