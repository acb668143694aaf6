// The histogram kernels of radix-select over |x| bits (TIES / top-k sparsification): counts of the high
// 16 bits here, then of the low 16 bits within chosen high buckets (low-histogram-kernels.ts). Pointers
// are byte offsets, only element-aligned. Semantics: reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import {
  advance,
  blockEnd,
  elementEnd,
  increment,
  loadVector,
  storeVector,
  whileBelow,
} from './instructions';
import { lowHistogramFunction } from './low-histogram-kernels';

const { i32, v128 } = wasmValueType;

/** Bins of a high-bits histogram: (bits & 0x7fffffff) >>> 16. */
export const HIGH_BINS = 32768;
/** histHighSplit counts into this many sub-histograms of HIGH_BINS counters, element i into number i mod 4. */
export const HIGH_SUB_HISTOGRAMS = 4;
const SUB_HISTOGRAM_BYTES = HIGH_BINS * 4;

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

export function histogramKernelFunctions(): WasmFunctionDefinition[] {
  return [
    histHighFunction(),
    histHighSplitFunction(),
    histHighFoldFunction(),
    lowHistogramFunction('bucket'),
    lowHistogramFunction('window'),
    lowHistogramFunction('above'),
  ];
}
