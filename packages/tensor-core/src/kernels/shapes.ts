// Shape checks shared by every backend, so all of them reject the same inputs with the same errors.
import { DTypeError, ShapeMismatchError } from '../errors';
import type { Tensor } from '../tensor';

export function lastDimension(x: Tensor): number {
  return x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
}

export function leadingShape(x: Tensor): number[] {
  return x.shape.slice(0, -1);
}

export function requireF32(kernel: string, x: Tensor): Float32Array {
  if (!(x.data instanceof Float32Array)) throw new DTypeError(x.dtype, `${kernel} needs f32 input`);
  return x.data;
}

/** Checks a matmul's shapes and returns its sizes. */
export function matmulSizes(a: Tensor, b: Tensor, transposeB: boolean) {
  if (a.shape.length < 2 || b.shape.length < 2)
    throw new ShapeMismatchError('matmul: rank >= 2', [2, 2], [...a.shape]);
  const m = a.shape[a.shape.length - 2];
  const k = a.shape[a.shape.length - 1];
  const bRows = b.shape[b.shape.length - 2];
  const bCols = b.shape[b.shape.length - 1];
  const n = transposeB ? bRows : bCols;
  const bK = transposeB ? bCols : bRows;
  if (bK !== k) throw new ShapeMismatchError('matmul: inner dimensions', [k], [bK]);
  const batch = a.size / (m * k || 1);
  const bBatch = b.size / (bRows * bCols || 1);
  if (bBatch !== 1 && bBatch !== batch) throw new ShapeMismatchError('matmul: batch', [batch], [bBatch]);
  return { m, n, k, batch, outShape: [...a.shape.slice(0, -2), m, n] };
}

/** b must equal a's shape or a trailing part of it. */
export function checkBroadcast(kernel: string, a: Tensor, b: Tensor): void {
  const tail = a.shape.slice(a.shape.length - b.shape.length);
  if (b.shape.length > a.shape.length || tail.some((d, i) => d !== b.shape[i])) {
    throw new ShapeMismatchError(`${kernel}: b broadcast`, tail, [...b.shape]);
  }
}

export function checkNormWeight(kernel: string, x: Tensor, weight: Tensor): void {
  if (weight.size !== lastDimension(x))
    throw new ShapeMismatchError(`${kernel}: weight`, [lastDimension(x)], [...weight.shape]);
}

/** rope's x as [tokens, heads, headDim]. */
export function ropeSizes(x: Tensor) {
  if (x.shape.length < 2)
    throw new ShapeMismatchError('rope: x is [tokens, heads, headDim]', [1, 1], [...x.shape]);
  const headDim = x.shape[x.shape.length - 1];
  const heads = x.shape[x.shape.length - 2];
  const tokens = x.size / (heads * headDim || 1);
  return { tokens, heads, headDim };
}
