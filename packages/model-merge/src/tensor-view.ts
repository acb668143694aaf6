// What a merge method sees of a tensor: its shape and row chunks decoded to f32 on demand.
// Methods never hold a whole tensor in f32 unless their algorithm needs it (a top-k threshold
// needs one scratch array of magnitudes); this keeps a huge embedding from being copied per model.
import {
  bf16ToF32Table,
  decodeBf16Into,
  decodeF16Into,
  f16ToF32Table,
  ShapeMismatchError,
  Tensor,
} from '@meld/tensor-core';
import { commonArena } from './merge-arena';

export interface TensorView {
  readonly shape: readonly number[];
  readonly size: number;
  /** Elements per row: the last dimension (the whole tensor for 0-d/1-d). */
  readonly rowLength: number;
  readonly rowCount: number;
  /** f32 values of rows [rowStart, rowEnd). Unless `fresh`, the result may be a view into shared memory: never write to it. */
  read(rowStart: number, rowEnd: number): Float32Array;
  /** True when every `read` returns a new array that the caller owns (decoded from another dtype). */
  readonly fresh?: boolean;
  /**
   * Rows [rowStart, rowEnd) decoded into `into` (minus `subtract` element-wise when given), without
   * allocating; returns the filled prefix of `into`. Use `readRowsInto`, which falls back to `read`.
   */
  readInto?(rowStart: number, rowEnd: number, into: Float32Array, subtract?: Float32Array): Float32Array;
  /**
   * out[i] += coefficient · rows[i], decoded on the fly; with `first`, out[i] = 0 + coefficient · rows[i]
   * whatever `out` held (no separate zero fill). Use `accumulateRows`, which falls back to `read`.
   */
  accumulate?(
    rowStart: number,
    rowEnd: number,
    coefficient: number,
    out: Float32Array,
    first?: boolean,
  ): void;
  /** The elements as stored (bf16/f16 words or f32 values), for row workers reading shared memory. */
  readonly raw?: RawElements;
}

/** A tensor's elements as stored: 16-bit float words (bf16, f16) or f32 values. */
export type RawElements =
  | { readonly dtype: 'bf16' | 'f16'; readonly array: Uint16Array }
  | { readonly dtype: 'f32'; readonly array: Float32Array };

/** See TensorView.readInto; works for any view. */
export function readRowsInto(
  view: TensorView,
  rowStart: number,
  rowEnd: number,
  into: Float32Array,
  subtract?: Float32Array,
): Float32Array {
  if (view.readInto) return view.readInto(rowStart, rowEnd, into, subtract);
  const values = view.read(rowStart, rowEnd);
  const out = into.subarray(0, values.length);
  if (subtract) for (let i = 0; i < out.length; i++) out[i] = values[i]! - subtract[i]!;
  else out.set(values);
  return out;
}

/** See TensorView.accumulate; works for any view. */
export function accumulateRows(
  view: TensorView,
  rowStart: number,
  rowEnd: number,
  coefficient: number,
  out: Float32Array,
  first = false,
): void {
  if (view.accumulate) view.accumulate(rowStart, rowEnd, coefficient, out, first);
  else {
    if (first) out.fill(0);
    addScaled(out, coefficient, view.read(rowStart, rowEnd), 0);
  }
}

// The element kernels below compute in f32 (each product rounded to f32 before the sum, as f32
// hardware does), so the SIMD kernels of simd/ give the same bits; row workers run them from their
// source text, so they refer to nothing outside their parameters.

/** out[i] += c · x[start + i] (top level: V8 optimises one copy for every caller). */
export function addScaled(out: Float32Array, c: number, x: Float32Array, start: number): void {
  const cf = Math.fround(c);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + Math.fround(cf * x[start + i]!);
}

/** out[i] = 0 + c · x[start + i] (the + 0 turns −0 into +0, as accumulating into zeros does). */
export function setScaled(out: Float32Array, c: number, x: Float32Array, start: number): void {
  const cf = Math.fround(c);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(cf * x[start + i]!) + 0;
}

/** out[i] = 0 + c · table[words[start + i]]. */
export function setScaledWords(
  out: Float32Array,
  c: number,
  words: Uint16Array,
  start: number,
  table: Float32Array,
): void {
  const cf = Math.fround(c);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(cf * table[words[start + i]!]!) + 0;
}

/** out[i] = x[start + i] − y[i]. */
export function subtractInto(out: Float32Array, x: Float32Array, start: number, y: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[start + i]! - y[i]!;
}

/** out[i] += c · table[words[start + i]]: decode and accumulate in one pass (bf16/f16 tables). */
export function addScaledWords(
  out: Float32Array,
  c: number,
  words: Uint16Array,
  start: number,
  table: Float32Array,
): void {
  const cf = Math.fround(c);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + Math.fround(cf * table[words[start + i]!]!);
}

/** out[i] = table[words[start + i]] − y[i]. */
export function subtractWordsInto(
  out: Float32Array,
  words: Uint16Array,
  start: number,
  table: Float32Array,
  y: Float32Array,
): void {
  for (let i = 0; i < out.length; i++) out[i] = table[words[start + i]!]! - y[i]!;
}

/** A view over 16-bit float words (bf16 or f16), decoding each chunk in bulk. */
function wordView(tensor: Tensor, words: Uint16Array, bf16: boolean): TensorView {
  const { size, rowLength, rowCount } = rowGeometry(tensor.shape);
  const table = bf16 ? bf16ToF32Table() : f16ToF32Table();
  const decode = bf16 ? decodeBf16Into : decodeF16Into;
  return {
    fresh: true,
    raw: { dtype: bf16 ? 'bf16' : 'f16', array: words },
    shape: tensor.shape,
    size,
    rowLength,
    rowCount,
    read(rowStart, rowEnd) {
      const start = rowStart * rowLength;
      const count = (rowEnd - rowStart) * rowLength;
      return decode(words.subarray(start, start + count), new Float32Array(count));
    },
    readInto(rowStart, rowEnd, into, subtract) {
      const start = rowStart * rowLength;
      const count = (rowEnd - rowStart) * rowLength;
      const out = into.subarray(0, count);
      const source = words.subarray(start, start + count);
      const arena = bf16 ? commonArena(out, source, ...(subtract ? [subtract] : [])) : undefined;
      if (arena) {
        if (subtract) arena.kernels.subBf16(out.byteOffset, source.byteOffset, subtract.byteOffset, count);
        else arena.kernels.decodeBf16(out.byteOffset, source.byteOffset, count);
      } else if (subtract) subtractWordsInto(out, words, start, table, subtract);
      else decode(source, out);
      return out;
    },
    accumulate(rowStart, rowEnd, coefficient, out, first) {
      const count = (rowEnd - rowStart) * rowLength;
      const target = out.subarray(0, count);
      const start = rowStart * rowLength;
      const arena = bf16 ? commonArena(target, words) : undefined;
      if (arena) {
        const kernel = first ? arena.kernels.scaleBf16 : arena.kernels.axpyBf16;
        kernel(target.byteOffset, words.byteOffset + 2 * start, count, coefficient);
      } else if (first) setScaledWords(target, coefficient, words, start, table);
      else addScaledWords(target, coefficient, words, start, table);
    },
  };
}

/** Where a method writes its result, row chunk by row chunk, in any order. */
export interface TensorOutput {
  write(rowStart: number, values: Float32Array): void;
  /** The output's elements as stored, when row workers may write them directly (shared memory). */
  readonly raw?: RawElements;
}

export function rowGeometry(shape: readonly number[]): { size: number; rowLength: number; rowCount: number } {
  let size = 1;
  for (const d of shape) size *= d;
  const rowLength = shape.length <= 1 ? size : shape[shape.length - 1]!;
  const rowCount = rowLength === 0 ? 0 : size / rowLength;
  return { size, rowLength, rowCount };
}

/** A view over a Tensor of any float dtype; f32 tensors are read without copying. */
export function tensorView(tensor: Tensor): TensorView {
  const { size, rowLength, rowCount } = rowGeometry(tensor.shape);
  if (tensor.dtype === 'f32') {
    const data = tensor.data as Float32Array;
    return {
      raw: { dtype: 'f32', array: data },
      shape: tensor.shape,
      size,
      rowLength,
      rowCount,
      read: (rowStart, rowEnd) => data.subarray(rowStart * rowLength, rowEnd * rowLength),
      readInto(rowStart, rowEnd, into, subtract) {
        const start = rowStart * rowLength;
        const out = into.subarray(0, (rowEnd - rowStart) * rowLength);
        const arena = subtract ? commonArena(out, data, subtract) : undefined;
        if (arena)
          arena.kernels.subF32(out.byteOffset, data.byteOffset + 4 * start, subtract!.byteOffset, out.length);
        else if (subtract) subtractInto(out, data, start, subtract);
        else out.set(data.subarray(start, start + out.length));
        return out;
      },
      accumulate(rowStart, rowEnd, coefficient, out, first) {
        const target = out.subarray(0, (rowEnd - rowStart) * rowLength);
        const start = rowStart * rowLength;
        const arena = commonArena(target, data);
        if (arena) {
          const kernel = first ? arena.kernels.scaleF32 : arena.kernels.axpyF32;
          kernel(target.byteOffset, data.byteOffset + 4 * start, target.length, coefficient);
        } else if (first) setScaled(target, coefficient, data, start);
        else addScaled(target, coefficient, data, start);
      },
    };
  }
  const bytes = tensor.bytes();
  if ((tensor.dtype === 'bf16' || tensor.dtype === 'f16') && bytes.byteOffset % 2 === 0) {
    return wordView(tensor, new Uint16Array(bytes.buffer, bytes.byteOffset, size), tensor.dtype === 'bf16');
  }
  return {
    shape: tensor.shape,
    size,
    rowLength,
    rowCount,
    read(rowStart, rowEnd) {
      const part =
        rowCount === 1 && rowStart === 0
          ? tensor
          : tensor.reshape([rowCount, rowLength]).rows(rowStart, rowEnd);
      return part.toFloat32();
    },
  };
}

export function float32View(data: Float32Array, shape: readonly number[] = [data.length]): TensorView {
  return tensorView(Tensor.fromF32(data, shape));
}

/** Collects a method's output into one Float32Array. */
export function float32Output(shape: readonly number[]): TensorOutput & { readonly data: Float32Array } {
  const { size, rowLength } = rowGeometry(shape);
  const data = new Float32Array(size);
  return {
    data,
    write(rowStart, values) {
      data.set(values, rowStart * rowLength);
    },
  };
}

/** Iterates row ranges of at most ~`chunkElements` elements (always at least one whole row). */
export function* rowChunks(
  rowCount: number,
  rowLength: number,
  chunkElements: number,
): Generator<{ rowStart: number; rowEnd: number }> {
  const rowsPerChunk = Math.max(1, Math.floor(chunkElements / Math.max(1, rowLength)));
  for (let rowStart = 0; rowStart < rowCount; rowStart += rowsPerChunk) {
    yield { rowStart, rowEnd: Math.min(rowCount, rowStart + rowsPerChunk) };
  }
}

export function assertSameShape(what: string, expected: readonly number[], actual: readonly number[]): void {
  if (expected.length !== actual.length || expected.some((d, i) => d !== actual[i])) {
    throw new ShapeMismatchError(what, expected, actual);
  }
}
