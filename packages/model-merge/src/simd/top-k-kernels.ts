// Kernels of the top-k keep step (TIES / top-k sparsification): the count of threshold ties and the
// in-place keep. Pointers are byte offsets, only element-aligned; results that the JS API would return are
// stored as an i32 at the trailing `result` pointer (the assembler writes functions without results).
// Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import {
  advance,
  blockEnd as blockEnd_,
  elementEnd,
  loadVector,
  splatF32,
  splatI32,
  storeVector,
  whileBelow,
} from './instructions';

const { i32, f32, v128 } = wasmValueType;

/** applyTopK decides per block of this many bytes (512 elements) whether seen can reach quota in it. */
const BLOCK_BYTES = 2048;

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
    ...blockEnd_(vectorEnd, src, n, 8, 2),
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

/** The locals of four loaded elements. */
interface Lanes {
  readonly vector: number;
  readonly magnitudes: number;
  readonly ties: number;
}

/** i8x16.shuffle(x, x) lanes: x's i32 lanes moved up by one (lane 0 keeps lane 0: mask it off). */
const upOneLane = [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** i8x16.shuffle(zero, x) lanes: x's i32 lanes moved up by two, zeros below (one punpcklqdq on x64). */
const upTwoLanes = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** i8x16.shuffle(x, x) lanes: lane 3 in every lane. */
const laneThreeEverywhere = [12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15];

/**
 * applyTopK(values f32*, n, last f32, quota i32, seen i32, factor f32, result i32*): in place, values[i] =
 * kept · (v · factor) with kept = |v| > last, or |v| = last and fewer than quota ties seen before it;
 * *result = seen + the ties in values.
 *
 * The vector part runs in blocks of 512 elements. In a block where seen cannot cross quota (seen ≥ quota
 * already, or quota − seen ≥ the block's length or, counted first, its ties; and seen cannot wrap) every
 * tie is kept, or none is: a branch-free loop keeps |v| > last or |v| ≥ last and counts the ties. Only the
 * block where seen reaches quota runs the exact per-lane rule: a tie in lane j is kept iff
 * seen + (ties in lanes before j) <s quota, the same i32 sum (wrapping alike) the sequential step
 * compares. With the tie mask t (−1 per tie) and its inclusive prefix sum p (two shifted adds), that sum
 * is (seen − 1) − p_j; the loop keeps `seenBefore` = splat(seen − 1) and subtracts p's lane 3 (minus the
 * vector's tie count) after each vector. Vectors of eight elements without a tie skip the prefix sum.
 */
function applyTopKFunction(): WasmFunctionDefinition {
  const [values, n, last, quota, seen, factor, result] = [0, 1, 2, 3, 4, 5, 6];
  const [end, vectorEnd, tie, blockEnd, keepAll, uniform, scan] = [7, 8, 9, 10, 11, 12, 13];
  const [value, magnitude] = [14, 15];
  const [lastVector, factorVector, quotaVector, seenBefore, prefix, keepTies, counts] = [
    16, 17, 18, 19, 20, 21, 22,
  ];
  const [lowVector, lowMagnitudes, lowTies, highVector, highMagnitudes, highTies] = [23, 24, 25, 26, 27, 28];
  const low: Lanes = { vector: lowVector, magnitudes: lowMagnitudes, ties: lowTies };
  const high: Lanes = { vector: highVector, magnitudes: highMagnitudes, ties: highTies };

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
  /** Loads the four elements at values + offset into `vector`, their |v| and tie mask. */
  const load = ({ vector, magnitudes, ties }: Lanes, offset: number) => [
    ...loadVector(values, offset),
    ...op.tee(vector),
    ...op.i32x4Const(0x7fffffff),
    ...op.v128And,
    ...op.tee(magnitudes),
    ...op.get(lastVector),
    ...op.f32x4Eq,
    ...op.set(ties),
  ];
  /** Stores (kept & 1.0) · (v · factor) at values + offset, with code pushing the kept mask. */
  const storeKept = (vector: number, offset: number, kept: number[]) =>
    storeVector(values, offset, [
      ...kept,
      ...op.f32x4Const(1),
      ...op.v128And,
      ...op.get(vector),
      ...op.get(factorVector),
      ...op.f32x4Mul,
      ...op.f32x4Mul,
    ]);
  const greater = (magnitudes: number) => [...op.get(magnitudes), ...op.get(lastVector), ...op.f32x4Gt];
  /** A block where every tie is kept or none: kept = (|v| > last) | (tie & keepTies); counts −= ties. */
  const uniformStep = ({ vector, magnitudes, ties }: Lanes, offset: number) => [
    ...load({ vector, magnitudes, ties }, offset),
    ...op.get(counts),
    ...op.get(ties),
    ...op.i32x4Sub,
    ...op.set(counts),
    ...storeKept(vector, offset, [
      ...greater(magnitudes),
      ...op.get(ties),
      ...op.get(keepTies),
      ...op.v128And,
      ...op.v128Or,
    ]),
  ];
  /** Four loaded elements that may hold ties, kept by the per-lane rule; seenBefore counts their ties. */
  const exactStep = ({ vector, magnitudes, ties }: Lanes, offset: number) => [
    // prefix = inclusive prefix sum of the tie mask
    ...op.get(ties),
    ...op.get(ties),
    ...op.get(ties),
    ...op.i8x16Shuffle(upOneLane),
    ...op.v128Const(new Uint8Array(Int32Array.of(0, -1, -1, -1).buffer)),
    ...op.v128And,
    ...op.i32x4Add,
    ...op.tee(prefix),
    ...op.v128Zero,
    ...op.get(prefix),
    ...op.i8x16Shuffle(upTwoLanes),
    ...op.i32x4Add,
    ...op.set(prefix),
    // kept = (|v| > last) | (tie & (seen + ties before <s quota))
    ...storeKept(vector, offset, [
      ...greater(magnitudes),
      ...op.get(ties),
      ...op.get(seenBefore),
      ...op.get(prefix),
      ...op.i32x4Sub,
      ...op.get(quotaVector),
      ...op.i32x4LtS,
      ...op.v128And,
      ...op.v128Or,
    ]),
    ...op.get(seenBefore),
    ...op.get(prefix),
    ...op.get(prefix),
    ...op.i8x16Shuffle(laneThreeEverywhere),
    ...op.i32x4Sub,
    ...op.set(seenBefore),
  ];
  const exactBody = [
    ...load(low, 0),
    ...load(high, 16),
    ...op.get(lowTies),
    ...op.get(highTies),
    ...op.v128Or,
    ...op.v128AnyTrue,
    ...op.if,
    ...exactStep(low, 0),
    ...exactStep(high, 16),
    ...op.else,
    ...storeKept(lowVector, 0, greater(lowMagnitudes)),
    ...storeKept(highVector, 16, greater(highMagnitudes)),
    ...op.end,
    ...advance(values, 32),
  ];
  /** counts −= the tie mask of the four elements at scan + offset. */
  const countTies = (offset: number) => [
    ...op.get(counts),
    ...loadVector(scan, offset),
    ...op.i32x4Const(0x7fffffff),
    ...op.v128And,
    ...op.get(lastVector),
    ...op.f32x4Eq,
    ...op.i32x4Sub,
    ...op.set(counts),
  ];
  /** The i32 sum of a vector local's lanes. */
  const sumOfLanes = (vector: number) => [
    ...op.get(vector),
    ...op.i32x4ExtractLane(0),
    ...[1, 2, 3].flatMap((lane) => [...op.get(vector), ...op.i32x4ExtractLane(lane), ...op.i32Add]),
  ];
  /** (blockEnd − values) >>> 2 ≤u limit: the block's length fits under an i32 `limit` taken as u32. */
  const blockFits = (limit: number[]) => [
    ...limit,
    ...op.get(blockEnd),
    ...op.get(values),
    ...op.i32Sub,
    ...op.i32Const(2),
    ...op.i32ShrU,
    ...op.i32GeU,
  ];
  const block = [
    // blockEnd = values + min(vectorEnd − values, 2048 bytes)
    ...op.get(values),
    ...op.i32Const(BLOCK_BYTES),
    ...op.get(vectorEnd),
    ...op.get(values),
    ...op.i32Sub,
    ...op.tee(blockEnd),
    ...op.get(blockEnd),
    ...op.i32Const(BLOCK_BYTES),
    ...op.i32GtU,
    ...op.select,
    ...op.i32Add,
    ...op.set(blockEnd),
    // keepAll: seen < quota and quota − seen (exact as u32) ≥ the block's length
    ...op.get(seen),
    ...op.get(quota),
    ...op.i32LtS,
    ...blockFits([...op.get(quota), ...op.get(seen), ...op.i32Sub]),
    ...op.i32And,
    ...op.set(keepAll),
    // or none: seen ≥ quota and seen + the block's length does not pass 0x7fffffff
    ...op.get(seen),
    ...op.get(quota),
    ...op.i32LtS,
    ...op.i32Eqz,
    ...blockFits([...op.i32Const(0x7fffffff), ...op.get(seen), ...op.i32Sub]),
    ...op.i32And,
    ...op.get(keepAll),
    ...op.i32Or,
    ...op.set(uniform),
    // neither for sure but seen < quota: if the block's ties fit in quota − seen, every one is kept
    ...op.get(uniform),
    ...op.i32Eqz,
    ...op.get(seen),
    ...op.get(quota),
    ...op.i32LtS,
    ...op.i32And,
    ...op.if,
    ...op.get(values),
    ...op.set(scan),
    ...op.v128Zero,
    ...op.set(counts),
    ...whileBelow(scan, blockEnd, [...countTies(0), ...countTies(16), ...advance(scan, 32)]),
    ...op.get(quota),
    ...op.get(seen),
    ...op.i32Sub,
    ...sumOfLanes(counts),
    ...op.i32GeU,
    ...op.tee(keepAll),
    ...op.set(uniform),
    ...op.end,
    ...op.get(uniform),
    ...op.if,
    ...op.i32Const(0),
    ...op.get(keepAll),
    ...op.i32Sub,
    ...op.i32x4Splat,
    ...op.set(keepTies),
    ...op.v128Zero,
    ...op.set(counts),
    ...whileBelow(values, blockEnd, [
      ...uniformStep(low, 0),
      ...uniformStep(high, 16),
      ...advance(values, 32),
    ]),
    // seen += the ties
    ...op.get(seen),
    ...sumOfLanes(counts),
    ...op.i32Add,
    ...op.set(seen),
    ...op.else,
    ...op.get(seen),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.i32x4Splat,
    ...op.set(seenBefore),
    ...whileBelow(values, blockEnd, exactBody),
    ...op.get(seenBefore),
    ...op.i32x4ExtractLane(0),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.set(seen),
    ...op.end,
  ];
  const body = [
    ...splatF32(lastVector, last),
    ...splatF32(factorVector, factor),
    ...splatI32(quotaVector, quota),
    ...blockEnd_(vectorEnd, values, n, 8, 2),
    ...elementEnd(end, values, n, 2),
    ...whileBelow(values, vectorEnd, block),
    ...whileBelow(values, end, [...element(0), ...advance(values, 4)]),
    ...op.get(result),
    ...op.get(seen),
    ...op.i32Store(),
  ];
  return {
    name: 'applyTopK',
    parameters: [i32, i32, f32, i32, i32, f32, i32],
    locals: [...new Array<typeof i32>(7).fill(i32), f32, f32, ...new Array<typeof v128>(13).fill(v128)],
    body,
  };
}

export function topKKernelFunctions(): WasmFunctionDefinition[] {
  return [countEqualMagnitudeFunction(), applyTopKFunction()];
}
