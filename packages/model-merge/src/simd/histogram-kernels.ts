// The histogram kernels of radix-select over |x| bits (TIES / top-k sparsification): counts of the high
// 16 bits, then of the low 16 bits within chosen high buckets. Pointers are byte offsets, only
// element-aligned. Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import { advance, blockEnd, elementEnd, loadVector, storeVector, whileBelow } from './instructions';

const { i32, v128 } = wasmValueType;

/** Bins of a high-bits histogram: (bits & 0x7fffffff) >>> 16. */
export const HIGH_BINS = 32768;
/** histHighSplit counts into this many sub-histograms of HIGH_BINS counters, element i into number i mod 4. */
export const HIGH_SUB_HISTOGRAMS = 4;
const SUB_HISTOGRAM_BYTES = HIGH_BINS * 4;

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

/**
 * histHighSplit(hist u32*, src f32*, n): hist[32768 · (i mod 4) + ((bits(src[i]) & 0x7fffffff) >>> 16)] += 1.
 * Lane j of every vector counts into sub-histogram j, so runs of equal values (common in bf16 deltas)
 * increment four different counters in turn instead of waiting on one counter's store-to-load latency.
 */
function histHighSplitFunction(): WasmFunctionDefinition {
  const [hist, src, n] = [0, 1, 2];
  const [end, vectorEnd, address, addresses, bases] = [3, 4, 5, 6, 7];
  // ((bits & 0x7fffffff) >>> 16) << 2 === (bits >>> 14) & 0x1fffc
  const countLanes = (offset: number) => [
    ...loadVector(src, offset),
    ...op.i32Const(14),
    ...op.i32x4ShrU,
    ...op.i32x4Const(0x1fffc),
    ...op.v128And,
    ...op.get(bases),
    ...op.i32x4Add,
    ...op.set(addresses),
    ...[0, 1, 2, 3].flatMap((lane) => [
      ...op.get(addresses),
      ...op.i32x4ExtractLane(lane),
      ...increment(address),
    ]),
  ];
  // the last n mod 8 elements: element k of them into sub-histogram k mod 4, at hist + ((4k << 15) & 0x60000)
  const scalarBody = [
    ...op.get(hist),
    ...op.get(src),
    ...op.get(vectorEnd),
    ...op.i32Sub,
    ...op.i32Const(15),
    ...op.i32Shl,
    ...op.i32Const(3 * SUB_HISTOGRAM_BYTES),
    ...op.i32And,
    ...op.i32Add,
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
  const laneOffsets = Int32Array.from([0, 1, 2, 3], (lane) => lane * SUB_HISTOGRAM_BYTES);
  const body = [
    // bases = hist + [0, 1, 2, 3] · 131072
    ...op.get(hist),
    ...op.i32x4Splat,
    ...op.v128Const(new Uint8Array(laneOffsets.buffer)),
    ...op.i32x4Add,
    ...op.set(bases),
    ...blockEnd(vectorEnd, src, n, 8, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, [...countLanes(0), ...countLanes(16), ...advance(src, 32)]),
    ...whileBelow(src, end, scalarBody),
  ];
  return { name: 'histHighSplit', parameters: [i32, i32, i32], locals: [i32, i32, i32, v128, v128], body };
}

/**
 * histHighFold(hist u32*): hist[b] += hist[32768 s + b] for s = 1, 2, 3 (u32, wrapping), and those are
 * zeroed: the first 32768 counters then hold the totals, and counting may go on.
 */
function histHighFoldFunction(): WasmFunctionDefinition {
  const [hist] = [0];
  const [end] = [1];
  const others = [1, 2, 3].map((s) => s * SUB_HISTOGRAM_BYTES);
  const body = [
    ...op.get(hist),
    ...op.i32Const(SUB_HISTOGRAM_BYTES),
    ...op.i32Add,
    ...op.set(end),
    ...whileBelow(hist, end, [
      ...storeVector(hist, 0, [
        ...loadVector(hist, 0),
        ...others.flatMap((offset) => [...loadVector(hist, offset), ...op.i32x4Add]),
      ]),
      ...others.flatMap((offset) => storeVector(hist, offset, [...op.v128Zero])),
      ...advance(hist, 16),
    ]),
  ];
  return { name: 'histHighFold', parameters: [i32], locals: [i32], body };
}

/**
 * The low-bits histograms, one generator for both:
 * histLowRange(hist u32*, src f32*, n, bucketLow, bucketCount): for the elements whose high bucket
 * b = (bits & 0x7fffffff) >>> 16 lies in [bucketLow, bucketLow + bucketCount):
 * hist[(b − bucketLow) · 65536 + (bits & 0xffff)] += 1 (hist holds bucketCount · 65536 counters);
 * histLow(hist, src, n, bucket) is the window of one bucket: hist[bits & 0xffff] += 1 where b = bucket.
 *
 * The window test is one unsigned compare, b − bucketLow <u bucketCount (exact for any i32 bucketLow; a
 * bucketCount ≤ 0 counts nothing), written as a signed compare of both sides plus 0x80000000; histLow
 * compares (bits & 0x7fff0000) with bucket << 16 (−1 for a bucket outside 0..0x7fff, matching nothing).
 * Blocks of 32 elements: the lane masks narrow to one 32-bit mask, a block without a counted element is
 * skipped, and a block with some visits just those (lowest set bit first). On TIES deltas, where a sixth
 * of the elements share the threshold's bucket, blocks of 8 (or per-lane branches) paid about one
 * mispredicted branch per 8 elements, as the number of lanes to visit is random: 0.9 -> 2.0 elements/ns.
 */
function lowHistogramFunction(windowed: boolean): WasmFunctionDefinition {
  const [hist, src, n, bucketLow] = [0, 1, 2, 3];
  const parameterCount = windowed ? 5 : 4;
  const bucketCount = windowed ? 4 : parameterCount; // histLow: a local set to 1
  const [end, vectorEnd, address, bits, lanes] = [1, 2, 3, 4, 5].map((index) => bucketCount + index) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const [lowVector, countVector] = [bucketCount + 6, bucketCount + 7];
  /** The counter of in-window `bits`: hist + ((b − bucketLow) << 18) + ((bits & 0xffff) << 2). */
  const counter = [
    ...op.get(hist),
    ...op.get(bits),
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Const(0x7fff),
    ...op.i32And,
    ...op.get(bucketLow),
    ...op.i32Sub,
    ...op.i32Const(18),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.get(bits),
    ...op.i32Const(0xffff),
    ...op.i32And,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
  ];
  /** The scalar step (tested) for the element at src. */
  const element = [
    ...op.get(src),
    ...op.i32Load(),
    ...op.tee(bits),
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Const(0x7fff),
    ...op.i32And,
    ...op.get(bucketLow),
    ...op.i32Sub,
    ...op.get(bucketCount),
    ...op.i32LtU,
    ...op.if,
    ...counter,
    ...increment(address),
    ...op.end,
  ];
  // (b − bucketLow) ^ 0x80000000 = b − (bucketLow ^ 0x80000000), compared <s bucketCount ^ 0x80000000
  const inWindow = (offset: number) => [
    ...op.get(countVector),
    ...loadVector(src, offset),
    ...op.i32Const(16),
    ...op.i32x4ShrU,
    ...op.i32x4Const(0x7fff),
    ...op.v128And,
    ...op.get(lowVector),
    ...op.i32x4Sub,
    ...op.i32x4GtS,
  ];
  // histLow: (bits & 0x7fff0000) = bucket << 16, or −1 (matching nothing) for a bucket outside 0..0x7fff
  const inBucket = (offset: number) => [
    ...loadVector(src, offset),
    ...op.i32x4Const(0x7fff0000),
    ...op.v128And,
    ...op.get(lowVector),
    ...op.i32x4Eq,
  ];
  const laneTest = windowed ? inWindow : inBucket;
  /** Bit j set where element j of the sixteen at src + offset is counted (lane masks narrowed to bytes). */
  const sixteenLanes = (offset: number) => [
    ...[0, 32].flatMap((half) => [
      ...laneTest(offset + half),
      ...laneTest(offset + half + 16),
      ...op.i16x8NarrowI32x4S,
    ]),
    ...op.i8x16NarrowI16x8S,
    ...op.i8x16Bitmask,
  ];
  const vectorBody = [
    ...sixteenLanes(0),
    ...sixteenLanes(64),
    ...op.i32Const(16),
    ...op.i32Shl,
    ...op.i32Or,
    ...op.tee(lanes),
    ...op.if,
    ...op.loop,
    // the element of the lowest set bit of lanes, then that bit cleared
    ...op.get(src),
    ...op.get(lanes),
    ...op.i32Ctz,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.i32Load(),
    ...op.set(bits),
    ...counter,
    ...increment(address),
    ...op.get(lanes),
    ...op.get(lanes),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.i32And,
    ...op.tee(lanes),
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...advance(src, 128),
  ];
  const biasedSplat = (vector: number, scalar: number) => [
    ...op.get(scalar),
    ...op.i32Const(-0x80000000),
    ...op.i32Xor,
    ...op.i32x4Splat,
    ...op.set(vector),
  ];
  const body = [
    ...(windowed
      ? [...op.get(bucketCount), ...op.i32Const(1), ...op.i32LtS, ...op.if, ...op.return, ...op.end]
      : [...op.i32Const(1), ...op.set(bucketCount)]),
    ...(windowed
      ? [...biasedSplat(lowVector, bucketLow), ...biasedSplat(countVector, bucketCount)]
      : [
          ...op.get(bucketLow),
          ...op.i32Const(16),
          ...op.i32Shl,
          ...op.i32Const(-1),
          ...op.get(bucketLow),
          ...op.i32Const(0x7fff),
          ...op.i32And,
          ...op.get(bucketLow),
          ...op.i32Eq,
          ...op.select,
          ...op.i32x4Splat,
          ...op.set(lowVector),
        ]),
    ...blockEnd(vectorEnd, src, n, 32, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, [...element, ...advance(src, 4)]),
  ];
  return {
    name: windowed ? 'histLowRange' : 'histLow',
    parameters: new Array<typeof i32>(parameterCount).fill(i32),
    locals: [...new Array<typeof i32>(windowed ? 5 : 6).fill(i32), v128, v128],
    body,
  };
}

export function histogramKernelFunctions(): WasmFunctionDefinition[] {
  return [
    histHighFunction(),
    histHighSplitFunction(),
    histHighFoldFunction(),
    lowHistogramFunction(false),
    lowHistogramFunction(true),
  ];
}
