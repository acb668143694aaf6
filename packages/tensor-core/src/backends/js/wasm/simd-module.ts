// The WebAssembly SIMD (f32x4) kernels of the js backend, written as instruction bytes.
// matvec(w, x, out, rowStart, rowEnd, cols): out[r] = dot(w row r, x), four f32x4 accumulators per row.
// matmul(aPacked, bPacked, c, rows, nPadded, k, aStride, bStride, accumulate): a 4x8 register-blocked
//   micro-kernel over packed panels. aPacked: rows/4 blocks `aStride` bytes apart, each k x 4 floats (4 rows
//   interleaved); bPacked: nPadded/8 panels `bStride` bytes apart, each k x 8 floats; c: rows x nPadded
//   row-major, overwritten (accumulate = 0) or added to (1). rows % 4 == 0, nPadded % 8 == 0, k >= 1.
//   The strides let the caller run one k-block (cache blocking) of larger packed operands. Byte pointers.
// sum(start, end, out): a read-only stream (the memory-bandwidth probe of the benchmark).
import { assembleModule, type FunctionDefinition, op, valueType } from './assembler';

const { i32, f32, v128 } = valueType;

function matvecFunction(): FunctionDefinition {
  const [w, x, out, rowStart, rowEnd, cols] = [0, 1, 2, 3, 4, 5];
  const [r, p, q, end16, end4, endAll, rowBytes] = [6, 7, 8, 9, 10, 11, 12];
  const [acc0, acc1, acc2, acc3, s] = [13, 14, 15, 16, 17];
  const accumulate = (accumulator: number, offset: number) => [
    ...op.get(accumulator),
    ...op.get(p),
    ...op.v128Load(offset),
    ...op.get(q),
    ...op.v128Load(offset),
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.set(accumulator),
  ];
  const advance = (bytes: number) => [
    ...op.get(p),
    ...op.i32Const(bytes),
    ...op.i32Add,
    ...op.set(p),
    ...op.get(q),
    ...op.i32Const(bytes),
    ...op.i32Add,
    ...op.set(q),
  ];
  const whileBelow = (limit: number, body: number[]) => [
    ...op.block,
    ...op.get(p),
    ...op.get(limit),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...body,
    ...op.get(p),
    ...op.get(limit),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  const rowBody = [
    ...op.get(w),
    ...op.get(r),
    ...op.get(rowBytes),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.tee(p),
    ...op.get(cols),
    ...op.i32Const(-16),
    ...op.i32And,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(end16),
    ...op.get(p),
    ...op.get(cols),
    ...op.i32Const(-4),
    ...op.i32And,
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(end4),
    ...op.get(p),
    ...op.get(rowBytes),
    ...op.i32Add,
    ...op.set(endAll),
    ...op.get(x),
    ...op.set(q),
    ...op.v128Zero,
    ...op.set(acc0),
    ...op.v128Zero,
    ...op.set(acc1),
    ...op.v128Zero,
    ...op.set(acc2),
    ...op.v128Zero,
    ...op.set(acc3),
    ...op.f32Const0,
    ...op.set(s),
    ...whileBelow(end16, [
      ...accumulate(acc0, 0),
      ...accumulate(acc1, 16),
      ...accumulate(acc2, 32),
      ...accumulate(acc3, 48),
      ...advance(64),
    ]),
    ...whileBelow(end4, [...accumulate(acc0, 0), ...advance(16)]),
    ...whileBelow(endAll, [
      ...op.get(s),
      ...op.get(p),
      ...op.f32Load(),
      ...op.get(q),
      ...op.f32Load(),
      ...op.f32Mul,
      ...op.f32Add,
      ...op.set(s),
      ...advance(4),
    ]),
    ...op.get(acc0),
    ...op.get(acc1),
    ...op.f32x4Add,
    ...op.get(acc2),
    ...op.get(acc3),
    ...op.f32x4Add,
    ...op.f32x4Add,
    ...op.set(acc0),
    ...op.get(out),
    ...op.get(r),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.get(s),
    ...op.get(acc0),
    ...op.f32x4ExtractLane(0),
    ...op.get(acc0),
    ...op.f32x4ExtractLane(1),
    ...op.f32Add,
    ...op.get(acc0),
    ...op.f32x4ExtractLane(2),
    ...op.get(acc0),
    ...op.f32x4ExtractLane(3),
    ...op.f32Add,
    ...op.f32Add,
    ...op.f32Add,
    ...op.f32Store(),
    ...op.get(r),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.set(r),
  ];
  const body = [
    ...op.get(cols),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.set(rowBytes),
    ...op.get(rowStart),
    ...op.set(r),
    ...op.block,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...rowBody,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'matvec',
    parameters: [i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, i32, i32, i32, v128, v128, v128, v128, f32],
    body,
  };
}

function matmulFunction(): FunctionDefinition {
  const [a, b, c, rows, nPadded, k, aStride, bStride, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [panel, panelEnd, blockStart, cRow, pa, pb, paEnd, ldc, blockBytes, aEnd, cPanel, t] = [
    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
  ];
  const accumulators = [21, 22, 23, 24, 25, 26, 27, 28];
  const [b0, b1, s] = [29, 30, 31];
  const add = (local: number, value: number[]) => [
    ...op.get(local),
    ...value,
    ...op.i32Add,
    ...op.set(local),
  ];
  const rowStep: number[] = [];
  for (let row = 0; row < 4; row++) {
    rowStep.push(...op.get(pa), ...op.f32Load(row * 4), ...op.f32x4Splat, ...op.set(s));
    for (let half = 0; half < 2; half++) {
      const accumulator = accumulators[row * 2 + half];
      rowStep.push(
        ...op.get(accumulator),
        ...op.get(s),
        ...op.get(half === 0 ? b0 : b1),
        ...op.f32x4Mul,
        ...op.f32x4Add,
        ...op.set(accumulator),
      );
    }
  }
  const zero = accumulators.flatMap((accumulator) => [...op.v128Zero, ...op.set(accumulator)]);
  const store = (accumulating: boolean) => {
    const code: number[] = [...op.get(cRow), ...op.set(t)];
    for (let row = 0; row < 4; row++) {
      for (let half = 0; half < 2; half++) {
        code.push(...op.get(t), ...op.get(accumulators[row * 2 + half]));
        if (accumulating) code.push(...op.get(t), ...op.v128Load(half * 16), ...op.f32x4Add);
        code.push(...op.v128Store(half * 16));
      }
      if (row < 3) code.push(...add(t, op.get(ldc)));
    }
    return code;
  };
  const kLoop = [
    ...op.loop,
    ...op.get(pb),
    ...op.v128Load(0),
    ...op.set(b0),
    ...op.get(pb),
    ...op.v128Load(16),
    ...op.set(b1),
    ...rowStep,
    ...add(pa, op.i32Const(16)),
    ...add(pb, op.i32Const(32)),
    ...op.get(pa),
    ...op.get(paEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ];
  const blockLoop = [
    ...op.get(a),
    ...op.set(blockStart),
    ...op.get(cPanel),
    ...op.set(cRow),
    ...op.block,
    ...op.get(blockStart),
    ...op.get(aEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...zero,
    ...op.get(blockStart),
    ...op.tee(pa),
    ...op.get(blockBytes),
    ...op.i32Add,
    ...op.set(paEnd),
    ...op.get(panel),
    ...op.set(pb),
    ...kLoop,
    ...op.get(accumulate),
    ...op.if,
    ...store(true),
    ...op.else,
    ...store(false),
    ...op.end,
    ...add(blockStart, op.get(aStride)),
    ...add(cRow, [...op.get(ldc), ...op.i32Const(2), ...op.i32Shl]),
    ...op.get(blockStart),
    ...op.get(aEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  const body = [
    ...op.get(nPadded),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.set(ldc),
    ...op.get(k),
    ...op.i32Const(4),
    ...op.i32Shl,
    ...op.set(blockBytes),
    ...op.get(a),
    ...op.get(rows),
    ...op.i32Const(2),
    ...op.i32ShrU, // rows / 4 blocks
    ...op.get(aStride),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(aEnd),
    ...op.get(b),
    ...op.tee(panel),
    ...op.get(nPadded),
    ...op.i32Const(3),
    ...op.i32ShrU, // nPadded / 8 panels
    ...op.get(bStride),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(panelEnd),
    ...op.get(c),
    ...op.set(cPanel),
    ...op.block,
    ...op.get(panel),
    ...op.get(panelEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...blockLoop,
    ...add(panel, op.get(bStride)),
    ...add(cPanel, op.i32Const(32)),
    ...op.get(panel),
    ...op.get(panelEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'matmul',
    parameters: [i32, i32, i32, i32, i32, i32, i32, i32, i32],
    locals: [...new Array<typeof i32>(12).fill(i32), ...new Array<typeof v128>(11).fill(v128)],
    body,
  };
}

/**
 * matvecQ8(w, x, out, rowStart, rowEnd, blocks, table): out[r] = sum over the row's q8_0 blocks of
 * d * dot(q, x), reading the 34-byte blocks in place; d is looked up in `table` (65536 f32 values of every f16).
 */
function matvecQ8Function(): FunctionDefinition {
  const [w, x, out, rowStart, rowEnd, blocks, table] = [0, 1, 2, 3, 4, 5, 6];
  const [r, p, q, rowEndPointer] = [7, 8, 9, 10];
  const [total, blockSum0, blockSum1, bytes0, bytes1, wide] = [11, 12, 13, 14, 15, 16];
  // Widen 16 int8 (in `source`) to four f32x4 and multiply-accumulate against x at byte offset `xOffset`.
  const sixteen = (source: number, xOffset: number) => {
    const code: number[] = [];
    for (const [half, extend16] of [
      [0, op.i16x8ExtendLowI8x16S],
      [1, op.i16x8ExtendHighI8x16S],
    ] as const) {
      code.push(...op.get(source), ...extend16, ...op.set(wide));
      for (const [quarter, extend32] of [
        [0, op.i32x4ExtendLowI16x8S],
        [1, op.i32x4ExtendHighI16x8S],
      ] as const) {
        const accumulator = quarter === 0 ? blockSum0 : blockSum1;
        code.push(
          ...op.get(accumulator),
          ...op.get(wide),
          ...extend32,
          ...op.f32x4ConvertI32x4S,
          ...op.get(q),
          ...op.v128Load(xOffset + half * 32 + quarter * 16),
          ...op.f32x4Mul,
          ...op.f32x4Add,
          ...op.set(accumulator),
        );
      }
    }
    return code;
  };
  const blockBody = [
    ...op.v128Zero,
    ...op.set(blockSum0),
    ...op.v128Zero,
    ...op.set(blockSum1),
    ...op.get(p),
    ...op.v128LoadUnaligned(2),
    ...op.set(bytes0),
    ...op.get(p),
    ...op.v128LoadUnaligned(18),
    ...op.set(bytes1),
    ...sixteen(bytes0, 0),
    ...sixteen(bytes1, 64),
    // total += (blockSum0 + blockSum1) * d
    ...op.get(total),
    ...op.get(blockSum0),
    ...op.get(blockSum1),
    ...op.f32x4Add,
    ...op.get(table),
    ...op.get(p),
    ...op.i32Load16U(0),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.f32Load(),
    ...op.f32x4Splat,
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.set(total),
    ...op.get(p),
    ...op.i32Const(34),
    ...op.i32Add,
    ...op.set(p),
    ...op.get(q),
    ...op.i32Const(128),
    ...op.i32Add,
    ...op.set(q),
  ];
  const rowBody = [
    ...op.get(w),
    ...op.get(r),
    ...op.get(blocks),
    ...op.i32Const(34),
    ...op.i32Mul,
    ...op.i32Mul,
    ...op.i32Add,
    ...op.tee(p),
    ...op.get(blocks),
    ...op.i32Const(34),
    ...op.i32Mul,
    ...op.i32Add,
    ...op.set(rowEndPointer),
    ...op.get(x),
    ...op.set(q),
    ...op.v128Zero,
    ...op.set(total),
    ...op.block,
    ...op.get(p),
    ...op.get(rowEndPointer),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...blockBody,
    ...op.get(p),
    ...op.get(rowEndPointer),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...op.get(out),
    ...op.get(r),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.get(total),
    ...op.f32x4ExtractLane(0),
    ...op.get(total),
    ...op.f32x4ExtractLane(1),
    ...op.f32Add,
    ...op.get(total),
    ...op.f32x4ExtractLane(2),
    ...op.get(total),
    ...op.f32x4ExtractLane(3),
    ...op.f32Add,
    ...op.f32Add,
    ...op.f32Store(),
    ...op.get(r),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.set(r),
  ];
  const body = [
    ...op.get(rowStart),
    ...op.set(r),
    ...op.block,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...rowBody,
    ...op.get(r),
    ...op.get(rowEnd),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
  return {
    name: 'matvecQ8',
    parameters: [i32, i32, i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, v128, v128, v128, v128, v128, v128],
    body,
  };
}

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
      [matvecFunction(), matmulFunction(), sumFunction(), matvecQ8Function()],
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
    x: number,
    out: number,
    rowStart: number,
    rowEnd: number,
    blocks: number,
    table: number,
  ): void;
}
