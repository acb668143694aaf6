// The low-bits histograms of radix-select: counts of the low 16 bits of |x| within chosen high buckets
// (one bucket, a window of buckets, or a window plus the count above it). Pointers are byte offsets,
// only element-aligned. Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import { advance, blockEnd, elementEnd, increment, loadVector, whileBelow } from './instructions';

const { i32, v128 } = wasmValueType;

/** Bins of a high-bits histogram: (bits & 0x7fffffff) >>> 16. */
const HIGH_BINS = 32768;

/**
 * The low-bits histograms, one generator for all three:
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
 *
 * histLowRangeAbove (kind 'above') is histLowRange that also adds to hist[c · 65536], c = max(bucketCount,
 * 0), the number of elements with b ≥ bucketLow + c (exact integers: a sum past 32767 counts none). Its
 * block test works on 16-bit lanes: one shuffle takes the high halves of eight elements, masked to b,
 * compared (signed, exact for b in 0..32767) with lowLast = clamp(bucketLow, 0, 32768) − 1 and with
 * aboveLast = clamp(bucketLow + c, 0, 32768) − 1: in window = (b > lowLast) & ~(b > aboveLast). A block's
 * four above-masks are summed in i16 (−4..0), widened pairwise into four i32 counts once per block, and
 * those summed into the counter once per call. A bucketCount ≤ 0 counts no bin, only hist[0].
 */
export function lowHistogramFunction(kind: 'bucket' | 'window' | 'above'): WasmFunctionDefinition {
  const [hist, src, n, bucketLow] = [0, 1, 2, 3];
  const windowed = kind !== 'bucket';
  const above = kind === 'above';
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
  // 'above': aboveLast (i32, then i16 splat), the tail's count, the i32 counts, eight lanes' buckets and
  // above-mask, a block's i16 sum of above-masks; lowVector holds lowLast in i16 lanes
  const [aboveLast, aboveTail] = [bucketCount + 8, bucketCount + 9];
  const [aboveLastVector, aboveCounts, buckets, aboveMask, aboveSum] = [10, 11, 12, 13, 14].map(
    (index) => bucketCount + index,
  ) as [number, number, number, number, number];
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
  /** 'above': the i16 window mask of the eight elements at src + offset; their above-mask into aboveSum. */
  const eightLanesAbove = (offset: number) => [
    ...loadVector(src, offset),
    ...loadVector(src, offset + 16),
    ...op.i8x16Shuffle([2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31]),
    ...op.i32x4Const(0x7fff7fff),
    ...op.v128And,
    ...op.tee(buckets),
    ...op.get(lowVector),
    ...op.i16x8GtS,
    ...op.get(buckets),
    ...op.get(aboveLastVector),
    ...op.i16x8GtS,
    ...op.tee(aboveMask),
    ...op.v128AndNot,
    ...op.get(aboveMask),
    ...(offset === 0 ? [] : [...op.get(aboveSum), ...op.i16x8Add]),
    ...op.set(aboveSum),
  ];
  const sixteenLanesAbove = (offset: number) => [
    ...eightLanesAbove(offset),
    ...eightLanesAbove(offset + 32),
    ...op.i8x16NarrowI16x8S,
    ...op.i8x16Bitmask,
  ];
  const blockLanes = above ? sixteenLanesAbove : sixteenLanes;
  // 'above': aboveCounts −= the block's above-masks, widened pairwise to i32
  const blockAbove = [
    ...op.get(aboveCounts),
    ...op.get(aboveSum),
    ...op.i32x4ExtaddPairwiseI16x8S,
    ...op.i32x4Sub,
    ...op.set(aboveCounts),
  ];
  const vectorBody = [
    ...blockLanes(0),
    ...blockLanes(64),
    ...(above ? blockAbove : []),
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
  /** local = max(local, floor) when cap is false, min(local, floor) when true (signed). */
  const clamp = (local: number, bound: number, cap: boolean) => [
    ...op.i32Const(bound),
    ...op.get(local),
    ...(cap ? [...op.i32Const(bound), ...op.get(local)] : [...op.get(local), ...op.i32Const(bound)]),
    ...op.i32LtS,
    ...op.select,
    ...op.set(local),
  ];
  // bucketCount = max(bucketCount, 0); lowLast = clamp(bucketLow, 0, 32768) − 1 (via local bits);
  // aboveLast = clamp(bucketLow + bucketCount, 0, 32768) − 1, where a wrapped sum (below bucketLow) means
  // past 32767; both splat to i16 lanes
  const aboveSetup = [
    ...clamp(bucketCount, 0, false),
    ...op.get(bucketLow),
    ...op.set(bits),
    ...clamp(bits, HIGH_BINS, true),
    ...clamp(bits, 0, false),
    ...op.get(bits),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.i16x8Splat,
    ...op.set(lowVector),
    ...op.get(bucketLow),
    ...op.get(bucketCount),
    ...op.i32Add,
    ...op.set(aboveLast),
    ...op.i32Const(HIGH_BINS),
    ...op.get(aboveLast),
    ...op.get(aboveLast),
    ...op.get(bucketLow),
    ...op.i32LtS,
    ...op.select,
    ...op.set(aboveLast),
    ...clamp(aboveLast, HIGH_BINS, true),
    ...clamp(aboveLast, 0, false),
    ...op.get(aboveLast),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.tee(aboveLast),
    ...op.i16x8Splat,
    ...op.set(aboveLastVector),
  ];
  /** The tail's element at src: aboveTail += (b > aboveLast), then the window's scalar step. */
  const elementAbove = [
    ...op.get(aboveTail),
    ...op.get(aboveLast),
    ...op.get(src),
    ...op.i32Load(),
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Const(0x7fff),
    ...op.i32And,
    ...op.i32LtS,
    ...op.i32Add,
    ...op.set(aboveTail),
    ...element,
  ];
  // hist[bucketCount · 65536] += aboveTail + the four lanes of aboveCounts
  const aboveStore = [
    ...op.get(hist),
    ...op.get(bucketCount),
    ...op.i32Const(18),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.tee(address),
    ...op.get(address),
    ...op.i32Load(),
    ...op.get(aboveTail),
    ...op.i32Add,
    ...[0, 1, 2, 3].flatMap((lane) => [...op.get(aboveCounts), ...op.i32x4ExtractLane(lane), ...op.i32Add]),
    ...op.i32Store(),
  ];
  const body = [
    ...(above
      ? aboveSetup
      : windowed
        ? [...op.get(bucketCount), ...op.i32Const(1), ...op.i32LtS, ...op.if, ...op.return, ...op.end]
        : [...op.i32Const(1), ...op.set(bucketCount)]),
    ...(above
      ? []
      : windowed
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
    ...whileBelow(src, end, [...(above ? elementAbove : element), ...advance(src, 4)]),
    ...(above ? aboveStore : []),
  ];
  return {
    name: { bucket: 'histLow', window: 'histLowRange', above: 'histLowRangeAbove' }[kind],
    parameters: new Array<typeof i32>(parameterCount).fill(i32),
    locals: [
      ...new Array<typeof i32>(windowed ? 5 : 6).fill(i32),
      v128,
      v128,
      ...(above ? [i32, i32, v128, v128, v128, v128, v128] : []),
    ],
    body,
  };
}
