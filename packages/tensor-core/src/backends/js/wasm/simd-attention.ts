// WebAssembly SIMD kernel of single-query attention's second product: the softmax-weighted sum of value
// rows. (The first, q·k per key row, is the matvec kernel; the softmax runs in JavaScript for Math.exp.)
import { type FunctionDefinition, op, snippet, valueType } from './assembler';

const { i32, v128 } = valueType;

/**
 * weightedRowSum(v, p, out, rows, cols): out[c] = sum_j p[j] * v[j * cols + c] for c in [0, cols),
 * overwriting out. Byte pointers; cols % 16 == 0 and v, out 16-byte aligned. Sixteen columns per pass
 * (four f32x4 accumulators) over all rows, the weight broadcast once per row.
 */
export function weightedRowSumFunction(): FunctionDefinition {
  const [v, p, out, rows, cols] = [0, 1, 2, 3, 4];
  const [column, columnEnd, rowPointer, weightPointer, weightEnd, rowBytes, weight] = [5, 6, 7, 8, 9, 10, 11];
  const accumulators = [12, 13, 14, 15];
  const rowPass = [
    ...op.get(p),
    ...op.v128Load32Splat(),
    ...op.set(weight),
    ...accumulators.flatMap((accumulator, index) => [
      ...op.get(accumulator),
      ...op.get(rowPointer),
      ...op.v128Load(index * 16),
      ...op.get(weight),
      ...op.f32x4Mul,
      ...op.f32x4Add,
      ...op.set(accumulator),
    ]),
    ...snippet.addTo(rowPointer, op.get(rowBytes)),
    ...snippet.addTo(p, op.i32Const(4)),
  ];
  const columnPass = [
    ...accumulators.flatMap((accumulator) => [...op.v128Zero, ...op.set(accumulator)]),
    ...op.get(v),
    ...op.get(column),
    ...op.i32Add,
    ...op.set(rowPointer),
    ...op.get(weightPointer),
    ...op.set(p),
    ...snippet.whileBelow(p, weightEnd, rowPass),
    ...accumulators.flatMap((accumulator, index) => [
      ...op.get(out),
      ...op.get(column),
      ...op.i32Add,
      ...op.get(accumulator),
      ...op.v128Store(index * 16),
    ]),
    ...snippet.addTo(column, op.i32Const(64)),
  ];
  const body = [
    ...op.get(cols),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.tee(rowBytes),
    ...op.set(columnEnd),
    ...op.get(p),
    ...op.tee(weightPointer),
    ...op.get(rows),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(weightEnd),
    ...op.i32Const(0),
    ...op.set(column),
    ...snippet.whileBelow(column, columnEnd, columnPass),
  ];
  return {
    name: 'weightedRowSum',
    parameters: [i32, i32, i32, i32, i32],
    locals: [i32, i32, i32, i32, i32, i32, v128, v128, v128, v128, v128],
    body,
  };
}
