// The WebAssembly SIMD module of model-merge's bulk kernels, assembled without a toolchain by tensor-core's
// binary writer. It imports a shared memory `env.memory` (1 to 65536 pages of 64 KiB) and exports the
// kernels of MergeKernelExports. Every pointer is a byte offset into that memory, only element-aligned
// (2 bytes for bf16 words, 4 for f32 / u32 / i32); `n` counts elements and may be anything, 0 included.
// Outputs alias no input unless a kernel says so. reference.ts is the readable, bit-exact specification.
import { assembleWasmModule } from '@meld/tensor-core';
import { consensusFunction } from './consensus-kernel';
import { histogramKernelFunctions } from './histogram-kernels';

export { HIGH_BINS, HIGH_SUB_HISTOGRAMS } from './histogram-kernels';

import { linearKernelFunctions } from './linear-kernels';
import { topKKernelFunctions } from './top-k-kernels';

/** Pages of 64 KiB the imported memory may grow to: 4 GiB, all an i32 pointer addresses. */
export const MERGE_KERNEL_MAXIMUM_PAGES = 65536;

let cached: Uint8Array | undefined;

/** The module's bytes (assembled once per thread); send them to worker threads to instantiate there. */
export function mergeKernelModuleBytes(): Uint8Array {
  cached ??= assembleWasmModule(
    [
      ...linearKernelFunctions(),
      ...histogramKernelFunctions(),
      ...topKKernelFunctions(),
      consensusFunction(),
    ],
    1,
    MERGE_KERNEL_MAXIMUM_PAGES,
  );
  return cached;
}

/** The module's exports. bf16 words are u16 and decode to the f32 with bits word << 16. */
export interface MergeKernelExports {
  /** dst[i] = decode(src[i]) (bit moves: NaN payloads kept). */
  decodeBf16(dst: number, src: number, n: number): void;
  /** dst[i] = (c · decode(src[i])) + 0 (f32; −0 becomes +0). */
  scaleBf16(dst: number, src: number, n: number, c: number): void;
  /** dst[i] = dst[i] + c · decode(src[i]) (two f32 roundings). */
  axpyBf16(dst: number, src: number, n: number, c: number): void;
  /** dst[i] = (c · src[i]) + 0, f32 source. dst may equal src. */
  scaleF32(dst: number, src: number, n: number, c: number): void;
  /** dst[i] = dst[i] + c · src[i], f32 source. */
  axpyF32(dst: number, src: number, n: number, c: number): void;
  /** dst[i] = decode(src[i]) − base[i]. dst may equal base. */
  subBf16(dst: number, src: number, base: number, n: number): void;
  /** dst[i] = src[i] − base[i]. dst may equal src or base. */
  subF32(dst: number, src: number, base: number, n: number): void;
  /** dst[i] = bf16 of src[i]: tensor-core's encodeBf16Into (nearest even, NaN → quiet NaN). */
  encodeBf16(dst: number, src: number, n: number): void;
  /** hist[(bits(src[i]) & 0x7fffffff) >>> 16] += 1; hist holds 32768 u32 counters. */
  histHigh(hist: number, src: number, n: number): void;
  /**
   * histHigh into 4 sub-histograms: hist[32768 · (i mod 4) + ((bits(src[i]) & 0x7fffffff) >>> 16)] += 1,
   * i counted from this call's src; hist holds HIGH_SUB_HISTOGRAMS × HIGH_BINS = 4 × 32768 u32 counters
   * (512 KiB), zeroed by the caller before the first call. A bin's count is the sum of its four counters;
   * histHighFold gathers them into the first 32768. Faster than histHigh where values repeat (bf16 deltas).
   */
  histHighSplit(hist: number, src: number, n: number): void;
  /** hist[b] += hist[32768 s + b] for s = 1..3 (u32), those zeroed: histHighSplit's totals in the first 32768. */
  histHighFold(hist: number): void;
  /** hist[bits & 0xffff] += 1 for the src[i] with (bits & 0x7fffffff) >>> 16 = bucket; 65536 u32 counters. */
  histLow(hist: number, src: number, n: number, bucket: number): void;
  /**
   * hist[(b − bucketLow) · 65536 + (bits & 0xffff)] += 1 for the src[i] whose b = (bits & 0x7fffffff) >>> 16
   * lies in [bucketLow, bucketLow + bucketCount); hist holds bucketCount × 65536 u32 counters.
   */
  histLowRange(hist: number, src: number, n: number, bucketLow: number, bucketCount: number): void;
  /**
   * histLowRange, and hist[c · 65536] += the number of src[i] with b ≥ bucketLow + c, where
   * c = max(bucketCount, 0) (exact integers; NaN magnitudes rank above +inf; a sum past 32767 counts none).
   * hist holds c × 65536 + 1 u32 counters: the window's bins, then this above-count, which accumulates over
   * calls like the bins (u32, wrapping). A bucketCount ≤ 0 counts no bin: hist[0] counts b ≥ bucketLow.
   * The counters fit a 4 GiB memory only for bucketCount < 16384.
   */
  histLowRangeAbove(hist: number, src: number, n: number, bucketLow: number, bucketCount: number): void;
  /** Stores at `result` (an i32) how many |src[i]| equal last. */
  countEqualMagnitude(src: number, n: number, last: number, result: number): void;
  /**
   * In place, in element order: kept = |v| > last, or |v| = last while seen < quota (every tie then
   * increments seen); values[i] = kept · (v · factor). Stores the final seen at `result` (an i32).
   */
  applyTopK(
    values: number,
    n: number,
    last: number,
    quota: number,
    seen: number,
    factor: number,
    result: number,
  ): void;
  /** TIES sign consensus of two task vectors: out[i] = b[i] + λ·mixed (reference.ts consensus2). out may equal b. */
  consensus2(
    out: number,
    b: number,
    x: number,
    y: number,
    n: number,
    fx: number,
    fy: number,
    wx: number,
    wy: number,
    dx: number,
    dy: number,
    normalize: number,
    lambda: number,
  ): void;
}

/** The export names, in MergeKernelExports order. */
export const mergeKernelNames = [
  'decodeBf16',
  'scaleBf16',
  'axpyBf16',
  'scaleF32',
  'axpyF32',
  'subBf16',
  'subF32',
  'encodeBf16',
  'histHigh',
  'histHighSplit',
  'histHighFold',
  'histLow',
  'histLowRange',
  'histLowRangeAbove',
  'countEqualMagnitude',
  'applyTopK',
  'consensus2',
] as const satisfies readonly (keyof MergeKernelExports)[];
