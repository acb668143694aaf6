// Row-chunk helpers shared by the methods.
import { rowChunks, type TensorView } from '../tensor-view';

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

/** θ − θ0 for rows [rowStart, rowEnd) given the base chunk already decoded. */
export function deltaOf(
  view: TensorView,
  baseValues: Float32Array,
  rowStart: number,
  rowEnd: number,
): Float32Array {
  const values = view.read(rowStart, rowEnd);
  const out = view.fresh ? values : new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = values[i]! - baseValues[i]!;
  return out;
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

/** Writes base·baseCoefficient + Σ coefficients[i]·(θi − θ0 if subtractBase) chunk by chunk. */
export function writeCombination(
  context: ChunkGeometry & { output: { write(rowStart: number, values: Float32Array): void } },
  coefficients: readonly number[],
  options: { subtractBase: boolean; baseCoefficient: number },
): void {
  const base = context.base;
  forEachChunk(context, (rowStart, rowEnd) => {
    const first = context.models[0]!.read(rowStart, rowEnd);
    const out = new Float32Array(first.length);
    const baseValues = base ? base.read(rowStart, rowEnd) : undefined;
    let baseFactor = options.baseCoefficient;
    context.models.forEach((view, index) => {
      const c = coefficients[index]!;
      if (options.subtractBase && baseValues) baseFactor -= c;
      const values = index === 0 ? first : view.read(rowStart, rowEnd);
      axpy(out, c, values);
    });
    if (baseValues && baseFactor !== 0) axpy(out, baseFactor, baseValues);
    context.output.write(rowStart, out);
  });
}
