// The WebAssembly SIMD (f32x4) kernels of the js backend, written as instruction bytes.
// matvec(w, x, out, rowStart, rowEnd, cols): out[r] = dot(w row r, x), four f32x4 accumulators per row.
// matmul(aPacked, bPacked, c, rows, nPadded, k, aStride, bStride, accumulate): an R x 8 register-blocked
//   micro-kernel (R = MATMUL_ROWS) over packed panels. aPacked: rows/R blocks `aStride` bytes apart, each
//   k x R floats (R rows interleaved); bPacked: nPadded/8 panels `bStride` bytes apart, each k x 8 floats;
//   c: rows x nPadded row-major, overwritten (accumulate = 0) or added to (1). rows % R == 0, nPadded % 8 == 0.
//   The strides let the caller run one k-block (cache blocking) of larger packed operands. Byte pointers.
// matvecQ8 / matmulQ8 / quantizeQ8Input: the q8_0 kernels (simd-q8.ts).
// weightedRowSum(v, p, out, rows, cols): out = p^T v, attention's P V for one query (simd-attention.ts).
// sum(start, end, out): a read-only stream (the memory-bandwidth probe of the benchmark).
import { assembleModule, type FunctionDefinition, op, valueType } from './assembler';
import { weightedRowSumFunction } from './simd-attention';
import { matmulFunction } from './simd-matmul';
import { matvecFunction } from './simd-matvec';
import { matmulQ8Function, matvecQ8Function, quantizeQ8InputFunction } from './simd-q8';

const { i32, v128 } = valueType;

/** sum(start, end, out): f32 sum of [start, end) (byte pointers, a multiple of 64 bytes apart) into out. */
function sumFunction(): FunctionDefinition {
  const [start, end, out] = [0, 1, 2];
  const [p] = [3];
  const accumulators = [4, 5, 6, 7];
  const body = [
    ...accumulators.flatMap((accumulator) => [...op.v128Zero, ...op.set(accumulator)]),
    ...op.get(start),
    ...op.set(p),
    ...op.block,
    ...op.get(p),
    ...op.get(end),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...accumulators.flatMap((accumulator, index) => [
      ...op.get(accumulator),
      ...op.get(p),
      ...op.v128Load(index * 16),
      ...op.f32x4Add,
      ...op.set(accumulator),
    ]),
    ...op.get(p),
    ...op.i32Const(64),
    ...op.i32Add,
    ...op.set(p),
    ...op.get(p),
    ...op.get(end),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...op.get(accumulators[0]),
    ...op.get(accumulators[1]),
    ...op.f32x4Add,
    ...op.get(accumulators[2]),
    ...op.get(accumulators[3]),
    ...op.f32x4Add,
    ...op.f32x4Add,
    ...op.set(accumulators[0]),
    ...op.get(out),
    ...op.get(accumulators[0]),
    ...op.f32x4ExtractLane(0),
    ...op.get(accumulators[0]),
    ...op.f32x4ExtractLane(1),
    ...op.f32Add,
    ...op.get(accumulators[0]),
    ...op.f32x4ExtractLane(2),
    ...op.get(accumulators[0]),
    ...op.f32x4ExtractLane(3),
    ...op.f32Add,
    ...op.f32Add,
    ...op.f32Store(),
  ];
  return { name: 'sum', parameters: [i32, i32, i32], locals: [i32, v128, v128, v128, v128], body };
}

/** Largest shared memory the kernels address: 2 GiB (32768 pages of 64 KiB). */
export const MAXIMUM_PAGES = 32768;

let cached: Uint8Array | undefined;

/** The module's bytes (built once). */
export function simdModuleBytes(): Uint8Array {
  if (cached === undefined)
    cached = assembleModule(
      [
        matvecFunction(),
        matmulFunction(),
        sumFunction(),
        matvecQ8Function(),
        quantizeQ8InputFunction(),
        matmulQ8Function(),
        weightedRowSumFunction(),
      ],
      1,
      MAXIMUM_PAGES,
    );
  return cached;
}

export interface SimdExports {
  matvec(w: number, x: number, out: number, rowStart: number, rowEnd: number, cols: number): void;
  matmul(
    aPacked: number,
    bPacked: number,
    c: number,
    rows: number,
    nPadded: number,
    k: number,
    aStride: number,
    bStride: number,
    accumulate: number,
  ): void;
  sum(start: number, end: number, out: number): void;
  matvecQ8(
    w: number,
    xq: number,
    xs: number,
    out: number,
    rowStart: number,
    rowEnd: number,
    blocks: number,
    table: number,
  ): void;
  quantizeQ8Input(x: number, xq: number, xs: number, blocks: number, xqStep: number, xsStep: number): void;
  matmulQ8(
    w: number,
    xq: number,
    xs: number,
    out: number,
    rowStart: number,
    rowEnd: number,
    blocks: number,
    table: number,
    tiles: number,
    n: number,
  ): void;
  weightedRowSum(v: number, p: number, out: number, rows: number, cols: number): void;
}
