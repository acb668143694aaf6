// The histogram kernels of radix-select over |x| bits (TIES / top-k sparsification): counts of the high
// 16 bits, then of the low 16 bits within chosen high buckets. Pointers are byte offsets, only
// element-aligned. Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import { advance, blockEnd, elementEnd, loadVector, splatI32, whileBelow } from './instructions';

const { i32, v128 } = wasmValueType;

/** hist[address] += 1 for an i32 byte address on the stack, via local `address`. */
function increment(address: number): number[] {
  return [
    ...op.tee(address),
    ...op.get(address),
    ...op.i32Load(),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.i32Store(),
  ];
}

/** histHigh(hist u32*, src f32*, n): hist[(bits & 0x7fffffff) >>> 16] += 1. */
function histHighFunction(): WasmFunctionDefinition {
  const [hist, src, n] = [0, 1, 2];
  const [end, vectorEnd, address, addresses] = [3, 4, 5, 6];
  // ((bits & 0x7fffffff) >>> 16) << 2 === (bits >>> 14) & 0x1fffc
  const vectorBody = [
    ...loadVector(src),
    ...op.i32Const(14),
    ...op.i32x4ShrU,
    ...op.i32x4Const(0x1fffc),
    ...op.v128And,
    ...op.get(hist),
    ...op.i32x4Splat,
    ...op.i32x4Add,
    ...op.set(addresses),
    ...[0, 1, 2, 3].flatMap((lane) => [
      ...op.get(addresses),
      ...op.i32x4ExtractLane(lane),
      ...increment(address),
    ]),
    ...advance(src, 16),
  ];
  const scalarBody = [
    ...op.get(hist),
    ...op.get(src),
    ...op.i32Load(),
    ...op.i32Const(14),
    ...op.i32ShrU,
    ...op.i32Const(0x1fffc),
    ...op.i32And,
    ...op.i32Add,
    ...increment(address),
    ...advance(src, 4),
  ];
  const body = [
    ...blockEnd(vectorEnd, src, n, 4, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, scalarBody),
  ];
  return { name: 'histHigh', parameters: [i32, i32, i32], locals: [i32, i32, i32, v128], body };
}

/** histLow(hist u32*, src f32*, n, bucket): hist[bits & 0xffff] += 1 where (bits & 0x7fffffff) >>> 16 = bucket. */
function histLowFunction(): WasmFunctionDefinition {
  const [hist, src, n, bucket] = [0, 1, 2, 3];
  const [end, vectorEnd, address, bits, bucketVector] = [4, 5, 6, 7, 8];
  /** The scalar step for the element at src + offset. */
  const element = (offset: number) => [
    ...op.get(src),
    ...op.i32Load(offset),
    ...op.tee(bits),
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Const(0x7fff),
    ...op.i32And,
    ...op.get(bucket),
    ...op.i32Eq,
    ...op.if,
    ...op.get(hist),
    ...op.get(bits),
    ...op.i32Const(0xffff),
    ...op.i32And,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...increment(address),
    ...op.end,
  ];
  const matches = (offset: number) => [
    ...loadVector(src, offset),
    ...op.i32x4Const(0x7fff0000),
    ...op.v128And,
    ...op.get(bucketVector),
    ...op.i32x4Eq,
  ];
  // eight elements per test: most vectors hold no element of the bucket
  const vectorBody = [
    ...matches(0),
    ...matches(16),
    ...op.v128Or,
    ...op.v128AnyTrue,
    ...op.if,
    ...[0, 4, 8, 12, 16, 20, 24, 28].flatMap(element),
    ...op.end,
    ...advance(src, 32),
  ];
  const body = [
    // bucket << 16 in every lane (a bucket outside 0..0x7fff then matches nothing, as in the scalar test)
    ...op.get(bucket),
    ...op.i32Const(16),
    ...op.i32Shl,
    ...op.i32Const(-1),
    ...op.get(bucket),
    ...op.i32Const(0x7fff),
    ...op.i32And,
    ...op.get(bucket),
    ...op.i32Eq,
    ...op.select,
    ...op.set(bits),
    ...splatI32(bucketVector, bits),
    ...blockEnd(vectorEnd, src, n, 8, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, [...element(0), ...advance(src, 4)]),
  ];
  return { name: 'histLow', parameters: [i32, i32, i32, i32], locals: [i32, i32, i32, i32, v128], body };
}

export function histogramKernelFunctions(): WasmFunctionDefinition[] {
  return [histHighFunction(), histLowFunction()];
}
