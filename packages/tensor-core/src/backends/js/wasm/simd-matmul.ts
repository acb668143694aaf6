// The WebAssembly SIMD matmul micro-kernel, as instruction bytes; assembled in simd-module.ts.
import { type FunctionDefinition, op, snippet, valueType } from './assembler';

/** Rows of A per micro-kernel block (the kernel is MATMUL_ROWS x 8: 2 * MATMUL_ROWS f32x4 accumulators). */
export const MATMUL_ROWS = 4;

const { i32, v128 } = valueType;

export function matmulFunction(): FunctionDefinition {
  const [a, b, c, rows, nPadded, k, aStride, bStride, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [panel, panelEnd, blockStart, cRow, pa, pb, paEnd, ldc, blockBytes, aEnd, cPanel, t] = [
    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
  ];
  const accumulators = Array.from({ length: 2 * MATMUL_ROWS }, (_, i) => 21 + i);
  const [b0, b1, s] = [21 + 2 * MATMUL_ROWS, 22 + 2 * MATMUL_ROWS, 23 + 2 * MATMUL_ROWS];
  const add = snippet.addTo;
  const rowStep: number[] = [];
  for (let row = 0; row < MATMUL_ROWS; row++) {
    rowStep.push(...op.get(pa), ...op.v128Load32Splat(row * 4), ...op.set(s));
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
    for (let row = 0; row < MATMUL_ROWS; row++) {
      for (let half = 0; half < 2; half++) {
        code.push(...op.get(t), ...op.get(accumulators[row * 2 + half]));
        if (accumulating) code.push(...op.get(t), ...op.v128Load(half * 16), ...op.f32x4Add);
        code.push(...op.v128Store(half * 16));
      }
      if (row < MATMUL_ROWS - 1) code.push(...add(t, op.get(ldc)));
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
    ...add(pa, op.i32Const(MATMUL_ROWS * 4)),
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
    ...add(cRow, [...op.get(ldc), ...op.i32Const(MATMUL_ROWS), ...op.i32Mul]),
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
    ...op.i32Const(MATMUL_ROWS * 4),
    ...op.i32Mul,
    ...op.set(blockBytes),
    ...op.get(a),
    ...op.get(rows),
    ...op.i32Const(MATMUL_ROWS),
    ...op.i32DivU, // blocks of MATMUL_ROWS rows
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
    locals: [
      ...new Array<typeof i32>(12).fill(i32),
      ...new Array<typeof v128>(2 * MATMUL_ROWS + 3).fill(v128),
    ],
    body,
  };
}
