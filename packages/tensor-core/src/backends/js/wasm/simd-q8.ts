// The q8_0 kernels of the js backend, as instruction bytes; assembled in simd-module.ts.
// GGML q8_0: per 32 values a 34-byte block, an f16 scale d then 32 int8 q; value = d * q.
//
// matvecQ8(w, xq, xs, out, rowStart, rowEnd, blocks, table): the input vector arrives quantized per
//   32-block to int16 (xq, 64 bytes per block, 16-byte aligned; xs[b] its f32 scale, max|x| / 32767:
//   finer than llama.cpp's int8 activations). A block's dot product is exact integer arithmetic: four
//   v128.load8x8_s (8 int8 widened to int16 on load) and four i32x4.dot_i16x8_s (pmaddwd on x64;
//   WebAssembly SIMD without the relaxed proposal, off in Node 20, has no 8-bit dot), then one
//   conversion to f32 and one multiply by d * xs[b] (d looked up in `table`, all 65536 f16 values as
//   f32). One weight row per pass.
// quantizeQ8Input(x, xq, xs, blocks): the int16 input of matvecQ8, in SIMD.
// matmulQ8(...): the same integer dots for a prompt: four input rows per weight-block load.
import { type FunctionDefinition, op, snippet, valueType } from './assembler';

const { i32, f32, v128 } = valueType;

/** Bytes of one q8_0 block. */
const BLOCK = 34;

/**
 * One weight row per pass. Two or four rows per pass would share the input's loads, but measured on the
 * 2-core AMD EPYC build machine (node 20) they interleave the weight streams: a 32000 x 768 matrix
 * (26 MB, from memory) ran at 16 GMAC/s with one row, 6-7 with two and 4.5 with four (all ~17 in cache);
 * unrolling two or four blocks measured slower too.
 */
export function matvecQ8Function(): FunctionDefinition {
  const [w, xq, xs, out, rowStart, rowEnd, blocks, table] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, p, xp, sp, rowBytes, end] = [8, 9, 10, 11, 12, 13];
  const [accumulator] = [14];
  const { addTo, horizontalSum, whileBelow } = snippet;
  const dots: number[] = [];
  for (let quarter = 0; quarter < 4; quarter++) {
    dots.push(
      ...op.get(p),
      ...op.v128Load8x8S(2 + quarter * 8),
      ...op.get(xp),
      ...op.v128Load(quarter * 16),
      ...op.i32x4DotI16x8S,
    );
    if (quarter > 0) dots.push(...op.i32x4Add);
  }
  // accumulator += f32(the block's four dots) * (d * xs[b])
  const block = [
    ...dots,
    ...op.f32x4ConvertI32x4S,
    ...op.get(table),
    ...op.get(p),
    ...op.i32Load16U(0),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.f32Load(),
    ...op.get(sp),
    ...op.f32Load(),
    ...op.f32Mul,
    ...op.f32x4Splat,
    ...op.f32x4Mul,
    ...op.get(accumulator),
    ...op.f32x4Add,
    ...op.set(accumulator),
    ...addTo(p, op.i32Const(BLOCK)),
    ...addTo(xp, op.i32Const(64)),
    ...addTo(sp, op.i32Const(4)),
  ];
  const row = [
    ...op.get(w),
    ...op.get(r),
    ...op.get(rowBytes),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.tee(p),
    ...op.get(rowBytes),
    ...op.i32Add,
    ...op.set(end),
    ...op.v128Zero,
    ...op.set(accumulator),
    ...op.get(xq),
    ...op.set(xp),
    ...op.get(xs),
    ...op.set(sp),
    ...whileBelow(p, end, block),
    ...op.get(out),
    ...op.get(r),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...horizontalSum(accumulator),
    ...op.f32Store(),
    ...addTo(r, op.i32Const(1)),
  ];
  const body = [
    ...op.get(blocks),
    ...op.i32Const(BLOCK),
    ...op.i32Mul,
    ...op.set(rowBytes),
    ...op.get(rowStart),
    ...op.set(r),
    ...whileBelow(r, rowEnd, row),
  ];
  return {
    name: 'matvecQ8',
    parameters: [i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, i32, i32, v128],
    body,
  };
}

/**
 * quantizeQ8Input(x, xq, xs, blocks, xqStep, xsStep): per 32-block of f32 x (16-byte aligned), step =
 * max|x| / 32767 into xs and xq = nearest(x / step) as 32 int16 (ties to even; an all-zero block gets
 * step 0, q 0); after each block xq advances xqStep bytes (64: contiguous) and xs xsStep (4).
 */
export function quantizeQ8InputFunction(): FunctionDefinition {
  const [x, xq, xs, blocks, xqStep, xsStep] = [0, 1, 2, 3, 4, 5];
  const [end, step, inverse] = [6, 7, 8];
  const [peak] = [9];
  const add = snippet.addTo;
  const quarter = (index: number) => [
    ...op.get(x),
    ...op.v128Load(index * 16),
    ...op.get(inverse),
    ...op.f32x4Splat,
    ...op.f32x4Mul,
    ...op.f32x4Nearest,
    ...op.i32x4TruncSatF32x4S,
  ];
  const maxima: number[] = [...op.get(x), ...op.v128Load(0), ...op.f32x4Abs];
  for (let i = 1; i < 8; i++)
    maxima.push(...op.get(x), ...op.v128Load(i * 16), ...op.f32x4Abs, ...op.f32x4Max);
  const body = [
    ...op.get(x),
    ...op.get(blocks),
    ...op.i32Const(128),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(end),
    ...op.block,
    ...op.get(x),
    ...op.get(end),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...maxima,
    ...op.set(peak),
    ...op.get(xs),
    ...op.get(peak),
    ...op.f32x4ExtractLane(0),
    ...op.get(peak),
    ...op.f32x4ExtractLane(1),
    ...op.f32Max,
    ...op.get(peak),
    ...op.f32x4ExtractLane(2),
    ...op.get(peak),
    ...op.f32x4ExtractLane(3),
    ...op.f32Max,
    ...op.f32Max,
    ...op.f32Const(32767),
    ...op.f32Div,
    ...op.tee(step),
    ...op.f32Store(),
    // inverse = step > 0 ? 1 / step : 0
    ...op.f32Const(1),
    ...op.get(step),
    ...op.f32Div,
    ...op.f32Const0,
    ...op.get(step),
    ...op.f32Const0,
    ...op.f32Gt,
    ...op.select,
    ...op.set(inverse),
    ...[0, 1, 2, 3].flatMap((pair) => [
      ...op.get(xq),
      ...quarter(pair * 2),
      ...quarter(pair * 2 + 1),
      ...op.i16x8NarrowI32x4S,
      ...op.v128Store(pair * 16),
    ]),
    ...add(x, op.i32Const(128)),
    ...add(xq, op.get(xqStep)),
    ...add(xs, op.get(xsStep)),
    ...op.get(x),
    ...op.get(end),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'quantizeQ8Input',
    parameters: [i32, i32, i32, i32, i32, i32],
    locals: [i32, f32, f32, v128],
    body,
  };
}

/** Input rows per tile of matmulQ8 (its accumulator's four lanes). */
export const Q8_MATMUL_GROUPS = 2;
export const Q8_MATMUL_ROWS = 4 * Q8_MATMUL_GROUPS;

/**
 * matmulQ8(w, xq, xs, out, rowStart, rowEnd, blocks, table, tiles, n): out[i * n + j] for weight rows j in
 * [rowStart, rowEnd) and input rows i < 4 * tiles. The input is quantized like matvecQ8's and interleaved
 * in tiles of four rows: per tile and block, the four rows' 32 int16 (256 bytes at xq) and their steps
 * (16 bytes at xs). Per weight block: four load8x8_s shared by the four rows, sixteen i32x4.dot_i16x8_s,
 * the four rows' int32 sums transposed into one vector (shuffles), one conversion, and one multiply by
 * d * steps. Weight rows are read once per tile from L1; tiles stream through L2.
 */
export function matmulQ8Function(groups = Q8_MATMUL_GROUPS): FunctionDefinition {
  const G = groups;
  const [w, xq, xs, out, rowStart, rowEnd, blocks, table, tiles, n] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [j, p, end, xp, sp, t, o, rowBytes, stride] = [10, 11, 12, 13, 14, 15, 16, 17, 18];
  const weights = [19, 20, 21, 22];
  const sums = [23, 24, 25, 26];
  const [low, high, scale] = [27, 28, 29];
  const accumulators = Array.from({ length: G }, (_, g) => 30 + g);
  const add = snippet.addTo;
  // 32-bit lane indices -> byte lanes of i8x16.shuffle
  const lanes = (indices: number[]) => indices.flatMap((index) => [0, 1, 2, 3].map((b) => index * 4 + b));
  const interleave = (first: number, second: number, low: boolean) => [
    ...op.get(first),
    ...op.get(second),
    ...op.i8x16Shuffle(lanes(low ? [0, 4, 1, 5] : [2, 6, 3, 7])),
  ];
  const pairSum = (first: number, second: number, target: number) => [
    ...interleave(first, second, true),
    ...interleave(first, second, false),
    ...op.i32x4Add,
    ...op.set(target),
  ];
  const group = (g: number) => [
    ...sums.flatMap((local, row) => {
      const code: number[] = [];
      for (let quarter = 0; quarter < 4; quarter++) {
        code.push(
          ...op.get(weights[quarter]),
          ...op.get(xp),
          ...op.v128Load((g * 4 + row) * 64 + quarter * 16),
          ...op.i32x4DotI16x8S,
        );
        if (quarter > 0) code.push(...op.i32x4Add);
      }
      return [...code, ...op.set(local)];
    }),
    // [s0, s1, s2, s3] lane sums: (s0, s1) -> low = [a0+a2, b0+b2, a1+a3, b1+b3], likewise (s2, s3) -> high
    ...pairSum(sums[0], sums[1], low),
    ...pairSum(sums[2], sums[3], high),
    ...op.get(low),
    ...op.get(high),
    ...op.i8x16Shuffle(lanes([0, 1, 4, 5])),
    ...op.get(low),
    ...op.get(high),
    ...op.i8x16Shuffle(lanes([2, 3, 6, 7])),
    ...op.i32x4Add,
    ...op.f32x4ConvertI32x4S,
    ...op.get(sp),
    ...op.v128Load(g * 16),
    ...op.get(scale),
    ...op.f32x4Mul,
    ...op.f32x4Mul,
    ...op.get(accumulators[g]),
    ...op.f32x4Add,
    ...op.set(accumulators[g]),
  ];
  const block = [
    ...weights.flatMap((local, quarter) => [
      ...op.get(p),
      ...op.v128Load8x8S(2 + quarter * 8),
      ...op.set(local),
    ]),
    ...op.get(table),
    ...op.get(p),
    ...op.i32Load16U(0),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.f32Load(),
    ...op.f32x4Splat,
    ...op.set(scale),
    ...Array.from({ length: G }, (_, g) => group(g)).flat(),
    ...add(p, op.i32Const(BLOCK)),
    ...add(xp, op.i32Const(G * 256)),
    ...add(sp, op.i32Const(G * 16)),
  ];
  const stores: number[] = [];
  for (const accumulator of accumulators) {
    for (let lane = 0; lane < 4; lane++) {
      stores.push(...op.get(o), ...op.get(accumulator), ...op.f32x4ExtractLane(lane), ...op.f32Store());
      stores.push(...add(o, op.get(stride)));
    }
  }
  const tileLoop = [
    ...op.loop,
    ...op.get(w),
    ...op.get(j),
    ...op.get(rowBytes),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(p),
    ...accumulators.flatMap((accumulator) => [...op.v128Zero, ...op.set(accumulator)]),
    ...op.loop,
    ...block,
    ...op.get(p),
    ...op.get(end),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...stores,
    ...add(t, op.i32Const(1)),
    ...op.get(t),
    ...op.get(tiles),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const rowLoop = [
    ...op.loop,
    ...op.get(w),
    ...op.get(j),
    ...op.get(rowBytes),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.get(rowBytes),
    ...op.i32Add,
    ...op.set(end),
    ...op.get(xq),
    ...op.set(xp),
    ...op.get(xs),
    ...op.set(sp),
    ...op.get(out),
    ...op.get(j),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(o),
    ...op.i32Const(0),
    ...op.set(t),
    ...tileLoop,
    ...add(j, op.i32Const(1)),
    ...op.get(j),
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
    ...op.get(n),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.set(stride),
    ...op.get(rowStart),
    ...op.set(j),
    ...op.block,
    ...op.get(j),
    ...op.get(rowEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.get(tiles),
    ...op.i32Eqz,
    ...op.brIf(0),
    ...rowLoop,
    ...op.end,
  ];
  return {
    name: 'matmulQ8',
    parameters: [i32, i32, i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [...new Array<typeof i32>(9).fill(i32), ...new Array<typeof v128>(11 + G).fill(v128)],
    body,
  };
}
