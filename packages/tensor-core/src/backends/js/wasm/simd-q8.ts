// The q8_0 kernels of the js backend, as instruction bytes; assembled in simd-module.ts.
// GGML q8_0: per 32 values a 34-byte block, an f16 scale d then 32 int8 q; value = d * q.
//
// matvecQ8(w, xq, xs, out, rowStart, rowEnd, blocks, table): the input vector arrives quantized per
//   32-block to int16 (xq, 64 bytes per block, 16-byte aligned; xs[b] its f32 scale, max|x| / 32767:
//   finer than llama.cpp's int8 activations). A block's dot product is exact integer arithmetic: two
//   16-byte loads, four sign extensions to int16 and four i32x4.dot_i16x8_s (pmaddwd on x64; 128-bit
//   WebAssembly SIMD has no 8-bit dot), then one conversion to f32 and one multiply by d * xs[b]
//   (d looked up in `table`, all 65536 f16 values as f32). Two weight rows per pass share the input
//   loads; an odd last row reruns itself as its own partner.
// unpackQ8(w, panel, rowStart, rowEnd, blocks, table, k): decodes weight rows into the transposed
//   panels of the f32 matmul (panel j >> 3 holds rows 8 (j >> 3).. as k x 8 floats), so a prompt's
//   q8_0 product is one f32 SIMD matmul over every token (each weight decoded once per call).
import { type FunctionDefinition, op, valueType } from './assembler';

const { i32, f32, v128 } = valueType;

/** Bytes of one q8_0 block. */
const BLOCK = 34;

export function matvecQ8Function(): FunctionDefinition {
  const [w, xq, xs, out, rowStart, rowEnd, blocks, table] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, p0, p1, xp, sp, rowBytes, end] = [8, 9, 10, 11, 12, 13, 14];
  const [x0, x1, x2, x3, acc0, acc1, bytes] = [15, 16, 17, 18, 19, 20, 21];
  const [scale] = [22];
  const add = (local: number, value: number[]) => [
    ...op.get(local),
    ...value,
    ...op.i32Add,
    ...op.set(local),
  ];
  const dot = (extend: readonly number[], input: number) => [
    ...op.get(bytes),
    ...extend,
    ...op.get(input),
    ...op.i32x4DotI16x8S,
  ];
  // acc += f32(dot(block at pointer, x block)) * (d * xs[b])
  const rowBlock = (pointer: number, accumulator: number) => [
    ...op.get(pointer),
    ...op.v128LoadUnaligned(2),
    ...op.set(bytes),
    ...dot(op.i16x8ExtendLowI8x16S, x0),
    ...dot(op.i16x8ExtendHighI8x16S, x1),
    ...op.i32x4Add,
    ...op.get(pointer),
    ...op.v128LoadUnaligned(18),
    ...op.set(bytes),
    ...dot(op.i16x8ExtendLowI8x16S, x2),
    ...op.i32x4Add,
    ...dot(op.i16x8ExtendHighI8x16S, x3),
    ...op.i32x4Add,
    ...op.f32x4ConvertI32x4S,
    ...op.get(table),
    ...op.get(pointer),
    ...op.i32Load16U(0),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.f32Load(),
    ...op.get(scale),
    ...op.f32Mul,
    ...op.f32x4Splat,
    ...op.f32x4Mul,
    ...op.get(accumulator),
    ...op.f32x4Add,
    ...op.set(accumulator),
  ];
  const horizontal = (vector: number) => [
    ...op.get(vector),
    ...op.f32x4ExtractLane(0),
    ...op.get(vector),
    ...op.f32x4ExtractLane(1),
    ...op.f32Add,
    ...op.get(vector),
    ...op.f32x4ExtractLane(2),
    ...op.get(vector),
    ...op.f32x4ExtractLane(3),
    ...op.f32Add,
    ...op.f32Add,
  ];
  const outAddress = [...op.get(out), ...op.get(r), ...op.i32Const(2), ...op.i32Shl, ...op.i32Add];
  const blockLoop = [
    ...op.loop,
    ...op.get(xp),
    ...op.v128Load(0),
    ...op.set(x0),
    ...op.get(xp),
    ...op.v128Load(16),
    ...op.set(x1),
    ...op.get(xp),
    ...op.v128Load(32),
    ...op.set(x2),
    ...op.get(xp),
    ...op.v128Load(48),
    ...op.set(x3),
    ...op.get(sp),
    ...op.f32Load(),
    ...op.set(scale),
    ...rowBlock(p0, acc0),
    ...rowBlock(p1, acc1),
    ...add(p0, op.i32Const(BLOCK)),
    ...add(p1, op.i32Const(BLOCK)),
    ...add(xp, op.i32Const(64)),
    ...add(sp, op.i32Const(4)),
    ...op.get(p0),
    ...op.get(end),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const rowLoop = [
    ...op.loop,
    ...op.get(w),
    ...op.get(r),
    ...op.get(rowBytes),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.tee(p0),
    ...op.get(rowBytes),
    ...op.i32Add,
    ...op.set(end),
    // partner row: the next one, or this one again when it is the last
    ...op.get(end),
    ...op.get(p0),
    ...op.get(r),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.select,
    ...op.set(p1),
    ...op.v128Zero,
    ...op.set(acc0),
    ...op.v128Zero,
    ...op.set(acc1),
    ...op.get(xq),
    ...op.set(xp),
    ...op.get(xs),
    ...op.set(sp),
    ...blockLoop,
    ...outAddress,
    ...horizontal(acc0),
    ...op.f32Store(),
    ...op.get(r),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.if,
    ...outAddress,
    ...horizontal(acc1),
    ...op.f32Store(4),
    ...op.end,
    ...add(r, op.i32Const(2)),
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const body = [
    ...op.get(blocks),
    ...op.i32Const(BLOCK),
    ...op.i32Mul,
    ...op.set(rowBytes),
    ...op.get(rowStart),
    ...op.set(r),
    ...op.block,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...rowLoop,
    ...op.end,
  ];
  return {
    name: 'matvecQ8',
    parameters: [i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, i32, i32, i32, v128, v128, v128, v128, v128, v128, v128, f32],
    body,
  };
}

export function unpackQ8Function(): FunctionDefinition {
  const [w, panel, rowStart, rowEnd, blocks, table, k] = [0, 1, 2, 3, 4, 5, 6];
  const [r, p, q, end, scale] = [7, 8, 9, 10, 11];
  const add = (local: number, value: number[]) => [
    ...op.get(local),
    ...value,
    ...op.i32Add,
    ...op.set(local),
  ];
  const values: number[] = [];
  for (let i = 0; i < 32; i++) {
    values.push(
      ...op.get(q),
      ...op.get(p),
      ...op.i32Load8S(2 + i),
      ...op.f32ConvertI32S,
      ...op.get(scale),
      ...op.f32Mul,
      ...op.f32Store(i * 32),
    );
  }
  const blockLoop = [
    ...op.loop,
    ...op.get(table),
    ...op.get(p),
    ...op.i32Load16U(0),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.f32Load(),
    ...op.set(scale),
    ...values,
    ...add(p, op.i32Const(BLOCK)),
    ...add(q, op.i32Const(32 * 32)),
    ...op.get(p),
    ...op.get(end),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const rowLoop = [
    ...op.loop,
    // p = w + r * blocks * 34; q = panel + ((r >> 3) * k * 8 + (r & 7)) * 4
    ...op.get(w),
    ...op.get(r),
    ...op.get(blocks),
    ...op.i32Const(BLOCK),
    ...op.i32Mul,
    ...op.i32Mul,
    ...op.i32Add,
    ...op.tee(p),
    ...op.get(blocks),
    ...op.i32Const(BLOCK),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(end),
    ...op.get(panel),
    ...op.get(r),
    ...op.i32Const(3),
    ...op.i32ShrU,
    ...op.get(k),
    ...op.i32Mul,
    ...op.i32Const(32),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.get(r),
    ...op.i32Const(7),
    ...op.i32And,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(q),
    ...blockLoop,
    ...add(r, op.i32Const(1)),
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const body = [
    ...op.get(rowStart),
    ...op.set(r),
    ...op.block,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...rowLoop,
    ...op.end,
  ];
  return {
    name: 'unpackQ8',
    parameters: [i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, f32],
    body,
  };
}
