// Kernels of magnitude selection (TIES / top-k sparsification): the two histogram passes of radix-select
// over |x| bits, the count of threshold ties, and the in-place top-k keep. Pointers are byte offsets, only
// element-aligned. Results that the JS API would return are stored as an i32 at the trailing `result`
// pointer (the assembler writes functions without results). Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import {
  advance,
  blockEnd,
  elementEnd,
  loadVector,
  splatF32,
  splatI32,
  storeVector,
  whileBelow,
} from './instructions';

const { i32, f32, v128 } = wasmValueType;

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

/** countEqualMagnitude(src f32*, n, last f32, result i32*): *result = #{i : |src[i]| = last}. */
function countEqualMagnitudeFunction(): WasmFunctionDefinition {
  const [src, n, last, result] = [0, 1, 2, 3];
  const [end, vectorEnd, count, lastVector, counts] = [4, 5, 6, 7, 8];
  const countLanes = (offset: number) => [
    ...op.get(counts),
    ...loadVector(src, offset),
    ...op.f32x4Abs,
    ...op.get(lastVector),
    ...op.f32x4Eq,
    ...op.i32x4Sub, // a true lane is −1
    ...op.set(counts),
  ];
  const body = [
    ...splatF32(lastVector, last),
    ...blockEnd(vectorEnd, src, n, 8, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, [...countLanes(0), ...countLanes(16), ...advance(src, 32)]),
    ...[0, 1, 2, 3].flatMap((lane) => [
      ...op.get(count),
      ...op.get(counts),
      ...op.i32x4ExtractLane(lane),
      ...op.i32Add,
      ...op.set(count),
    ]),
    ...whileBelow(src, end, [
      ...op.get(count),
      ...op.get(src),
      ...op.f32Load(),
      ...op.f32Abs,
      ...op.get(last),
      ...op.f32Eq,
      ...op.i32Add,
      ...op.set(count),
      ...advance(src, 4),
    ]),
    ...op.get(result),
    ...op.get(count),
    ...op.i32Store(),
  ];
  return {
    name: 'countEqualMagnitude',
    parameters: [i32, i32, f32, i32],
    locals: [i32, i32, i32, v128, v128],
    body,
  };
}

/**
 * applyTopK(values f32*, n, last f32, quota i32, seen i32, factor f32, result i32*): in place, values[i] =
 * kept · (v · factor) with kept = |v| > last, or |v| = last and fewer than quota ties seen before it;
 * *result = seen + the ties in values.
 */
function applyTopKFunction(): WasmFunctionDefinition {
  const [values, n, last, quota, seen, factor, result] = [0, 1, 2, 3, 4, 5, 6];
  const [end, vectorEnd, tie] = [7, 8, 9];
  const [value, magnitude] = [10, 11];
  const [lastVector, factorVector, low, high] = [12, 13, 14, 15];
  /** The sequential step for the element at values + offset. */
  const element = (offset: number) => [
    ...op.get(values),
    ...op.get(values),
    ...op.f32Load(offset),
    ...op.tee(value),
    ...op.f32Abs,
    ...op.tee(magnitude),
    ...op.get(last),
    ...op.f32Eq,
    ...op.set(tie),
    // kept = (|v| > last) | (tie & (seen < quota)), as 0.0 or 1.0
    ...op.get(magnitude),
    ...op.get(last),
    ...op.f32Gt,
    ...op.get(tie),
    ...op.get(seen),
    ...op.get(quota),
    ...op.i32LtS,
    ...op.i32And,
    ...op.i32Or,
    ...op.f32ConvertI32U,
    ...op.get(value),
    ...op.get(factor),
    ...op.f32Mul,
    ...op.f32Mul,
    ...op.f32Store(offset),
    ...op.get(seen),
    ...op.get(tie),
    ...op.i32Add,
    ...op.set(seen),
  ];
  /** kept · (v · factor) for four lanes without ties: kept = |v| > last. */
  const keepGreater = (vector: number) => [
    ...op.get(vector),
    ...op.f32x4Abs,
    ...op.get(lastVector),
    ...op.f32x4Gt,
    ...op.f32x4Const(1),
    ...op.v128And,
    ...op.get(vector),
    ...op.get(factorVector),
    ...op.f32x4Mul,
    ...op.f32x4Mul,
  ];
  const ties = (vector: number) => [...op.get(vector), ...op.f32x4Abs, ...op.get(lastVector), ...op.f32x4Eq];
  const vectorBody = [
    ...loadVector(values, 0),
    ...op.set(low),
    ...loadVector(values, 16),
    ...op.set(high),
    ...ties(low),
    ...ties(high),
    ...op.v128Or,
    ...op.v128AnyTrue,
    ...op.if,
    ...[0, 4, 8, 12, 16, 20, 24, 28].flatMap(element),
    ...op.else,
    ...storeVector(values, 0, keepGreater(low)),
    ...storeVector(values, 16, keepGreater(high)),
    ...op.end,
    ...advance(values, 32),
  ];
  const body = [
    ...splatF32(lastVector, last),
    ...splatF32(factorVector, factor),
    ...blockEnd(vectorEnd, values, n, 8, 2),
    ...elementEnd(end, values, n, 2),
    ...whileBelow(values, vectorEnd, vectorBody),
    ...whileBelow(values, end, [...element(0), ...advance(values, 4)]),
    ...op.get(result),
    ...op.get(seen),
    ...op.i32Store(),
  ];
  return {
    name: 'applyTopK',
    parameters: [i32, i32, f32, i32, i32, f32, i32],
    locals: [i32, i32, i32, f32, f32, v128, v128, v128, v128],
    body,
  };
}

export function selectionKernelFunctions(): WasmFunctionDefinition[] {
  return [histHighFunction(), histLowFunction(), countEqualMagnitudeFunction(), applyTopKFunction()];
}
