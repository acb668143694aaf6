// The streaming kernels of linear merges: bf16/f32 sources decoded, scaled, accumulated, subtracted, and f32
// encoded back to bf16. Eight elements per SIMD iteration, then a scalar tail; pointers are byte offsets,
// only element-aligned. Semantics (bit for bit) are the plain functions of reference.ts.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import {
  advance,
  blockEnd,
  elementEnd,
  loadBf16Scalar,
  loadVector,
  splatF32,
  storeVector,
  whileBelow,
  widenBf16,
} from './instructions';

const { i32, f32, v128 } = wasmValueType;

/** Where an element-wise kernel finds its operands (local indices). */
interface Operands {
  readonly dst: number;
  readonly base: number;
  readonly coefficient: number;
  readonly coefficientVector: number;
}

interface ElementwiseKernel {
  readonly name: string;
  readonly source: 'bf16' | 'f32';
  /** (dst, src, base, n) instead of (dst, src, n[, c]). */
  readonly withBase?: boolean;
  /** A trailing f32 parameter c. */
  readonly withCoefficient?: boolean;
  /** The f32x4 result for the four elements at byte `offset` of dst/base, given code pushing their x. */
  vector(x: number[], offset: number, operands: Operands): number[];
  /** The f32 result for one element, given code pushing its x. */
  scalar(x: number[], operands: Operands): number[];
}

function elementwiseFunction(kernel: ElementwiseKernel): WasmFunctionDefinition {
  const bf16 = kernel.source === 'bf16';
  const dst = 0;
  const src = 1;
  const base = kernel.withBase ? 2 : -1;
  const n = kernel.withBase ? 3 : 2;
  const coefficient = kernel.withCoefficient ? 3 : -1;
  const parameterCount = kernel.withBase || kernel.withCoefficient ? 4 : 3;
  const parameters = [i32, i32, i32, ...(parameterCount === 4 ? [kernel.withBase ? i32 : f32] : [])];
  const [end, vectorEnd, words, coefficientVector] = [0, 1, 2, 3].map((index) => parameterCount + index) as [
    number,
    number,
    number,
    number,
  ];
  const operands: Operands = { dst, base, coefficient, coefficientVector };
  const elementShift = bf16 ? 1 : 2;
  const advanceAll = (sourceBytes: number, destinationBytes: number) => [
    ...advance(src, sourceBytes),
    ...advance(dst, destinationBytes),
    ...(kernel.withBase ? advance(base, destinationBytes) : []),
  ];
  const vectorBody = bf16
    ? [
        ...loadVector(src),
        ...op.set(words),
        ...storeVector(dst, 0, kernel.vector(widenBf16(words, false), 0, operands)),
        ...storeVector(dst, 16, kernel.vector(widenBf16(words, true), 16, operands)),
        ...advanceAll(16, 32),
      ]
    : [
        ...storeVector(dst, 0, kernel.vector(loadVector(src, 0), 0, operands)),
        ...storeVector(dst, 16, kernel.vector(loadVector(src, 16), 16, operands)),
        ...advanceAll(32, 32),
      ];
  const scalarX = bf16 ? loadBf16Scalar(src) : [...op.get(src), ...op.f32Load()];
  const scalarBody = [
    ...op.get(dst),
    ...kernel.scalar(scalarX, operands),
    ...op.f32Store(),
    ...advanceAll(bf16 ? 2 : 4, 4),
  ];
  const body = [
    ...(kernel.withCoefficient ? splatF32(coefficientVector, coefficient) : []),
    ...blockEnd(vectorEnd, src, n, 8, elementShift),
    ...elementEnd(end, src, n, elementShift),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, scalarBody),
  ];
  return { name: kernel.name, parameters, locals: [i32, i32, v128, v128], body };
}

const scale = (source: 'bf16' | 'f32'): ElementwiseKernel => ({
  name: source === 'bf16' ? 'scaleBf16' : 'scaleF32',
  source,
  withCoefficient: true,
  vector: (x, _offset, { coefficientVector }) => [
    ...op.get(coefficientVector),
    ...x,
    ...op.f32x4Mul,
    ...op.v128Zero,
    ...op.f32x4Add,
  ],
  scalar: (x, { coefficient }) => [...op.get(coefficient), ...x, ...op.f32Mul, ...op.f32Const0, ...op.f32Add],
});

const axpy = (source: 'bf16' | 'f32'): ElementwiseKernel => ({
  name: source === 'bf16' ? 'axpyBf16' : 'axpyF32',
  source,
  withCoefficient: true,
  vector: (x, offset, { dst, coefficientVector }) => [
    ...loadVector(dst, offset),
    ...op.get(coefficientVector),
    ...x,
    ...op.f32x4Mul,
    ...op.f32x4Add,
  ],
  scalar: (x, { dst, coefficient }) => [
    ...op.get(dst),
    ...op.f32Load(),
    ...op.get(coefficient),
    ...x,
    ...op.f32Mul,
    ...op.f32Add,
  ],
});

const subtract = (source: 'bf16' | 'f32'): ElementwiseKernel => ({
  name: source === 'bf16' ? 'subBf16' : 'subF32',
  source,
  withBase: true,
  vector: (x, offset, { base }) => [...x, ...loadVector(base, offset), ...op.f32x4Sub],
  scalar: (x, { base }) => [...x, ...op.get(base), ...op.f32Load(), ...op.f32Sub],
});

/** decodeBf16(dst, src, n): integer moves only, so NaN payloads survive. */
function decodeFunction(): WasmFunctionDefinition {
  const [dst, src, n] = [0, 1, 2];
  const [end, vectorEnd, words] = [3, 4, 5];
  const vectorBody = [
    ...loadVector(src),
    ...op.set(words),
    ...storeVector(dst, 0, widenBf16(words, false)),
    ...storeVector(dst, 16, widenBf16(words, true)),
    ...advance(src, 16),
    ...advance(dst, 32),
  ];
  const scalarBody = [
    ...op.get(dst),
    ...op.get(src),
    ...op.i32Load16U(),
    ...op.i32Const(16),
    ...op.i32Shl,
    ...op.i32Store(),
    ...advance(src, 2),
    ...advance(dst, 4),
  ];
  const body = [
    ...blockEnd(vectorEnd, src, n, 8, 1),
    ...elementEnd(end, src, n, 1),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, scalarBody),
  ];
  return { name: 'decodeBf16', parameters: [i32, i32, i32], locals: [i32, i32, v128], body };
}

// encodeBf16's constant vectors, set once before its loop
const [quietBit, roundingBias, lowestBit] = [8, 9, 10];

/** bits + 0x7fff + ((bits >>> 16) & 1) for local `bits`: round to nearest even (not for NaN lanes). */
function roundedBits(bits: number): number[] {
  return [
    ...op.get(bits),
    ...op.get(roundingBias),
    ...op.i32x4Add,
    ...op.get(bits),
    ...op.i32Const(16),
    ...op.i32x4ShrU,
    ...op.get(lowestBit),
    ...op.v128And,
    ...op.i32x4Add,
  ];
}

/** roundedBits, but NaN lanes (x ≠ x: a compare, so no bits change) become bits | 0x400000 (quiet). */
function roundedOrQuietBits(bits: number): number[] {
  return [
    ...op.get(bits),
    ...op.get(quietBit),
    ...op.v128Or,
    ...roundedBits(bits),
    ...op.get(bits),
    ...op.get(bits),
    ...op.f32x4Ne,
    ...op.v128Bitselect,
  ];
}

/** The high 16 bits of each lane of two i32x4: eight u16 words. */
const highHalves = [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31];

/** encodeBf16(dst u16*, src f32*, n): tensor-core's encodeBf16Into. */
function encodeFunction(): WasmFunctionDefinition {
  const [dst, src, n] = [0, 1, 2];
  const [end, vectorEnd, scalar, low, high] = [3, 4, 5, 6, 7];
  const vectorBody = [
    ...loadVector(src, 0),
    ...op.set(low),
    ...loadVector(src, 16),
    ...op.set(high),
    // NaNs are rare: a vector without one skips the quieting
    ...op.get(low),
    ...op.get(low),
    ...op.f32x4Ne,
    ...op.get(high),
    ...op.get(high),
    ...op.f32x4Ne,
    ...op.v128Or,
    ...op.v128AnyTrue,
    ...op.if,
    ...storeVector(dst, 0, [
      ...roundedOrQuietBits(low),
      ...roundedOrQuietBits(high),
      ...op.i8x16Shuffle(highHalves),
    ]),
    ...op.else,
    ...storeVector(dst, 0, [...roundedBits(low), ...roundedBits(high), ...op.i8x16Shuffle(highHalves)]),
    ...op.end,
    ...advance(src, 32),
    ...advance(dst, 16),
  ];
  const scalarBody = [
    ...op.get(src),
    ...op.i32Load(),
    ...op.set(scalar),
    ...op.get(dst),
    ...op.get(scalar),
    ...op.i32Const(0x400000),
    ...op.i32Or,
    ...op.get(scalar),
    ...op.i32Const(0x7fff),
    ...op.i32Add,
    ...op.get(scalar),
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Const(1),
    ...op.i32And,
    ...op.i32Add,
    ...op.get(scalar),
    ...op.i32Const(0x7fffffff),
    ...op.i32And,
    ...op.i32Const(0x7f800000),
    ...op.i32GtU,
    ...op.select,
    ...op.i32Const(16),
    ...op.i32ShrU,
    ...op.i32Store16(),
    ...advance(src, 4),
    ...advance(dst, 2),
  ];
  const body = [
    ...op.i32x4Const(0x400000),
    ...op.set(quietBit),
    ...op.i32x4Const(0x7fff),
    ...op.set(roundingBias),
    ...op.i32x4Const(1),
    ...op.set(lowestBit),
    ...blockEnd(vectorEnd, src, n, 8, 2),
    ...elementEnd(end, src, n, 2),
    ...whileBelow(src, vectorEnd, vectorBody),
    ...whileBelow(src, end, scalarBody),
  ];
  return {
    name: 'encodeBf16',
    parameters: [i32, i32, i32],
    locals: [i32, i32, i32, v128, v128, v128, v128, v128],
    body,
  };
}

export function linearKernelFunctions(): WasmFunctionDefinition[] {
  return [
    decodeFunction(),
    elementwiseFunction(scale('bf16')),
    elementwiseFunction(axpy('bf16')),
    elementwiseFunction(scale('f32')),
    elementwiseFunction(axpy('f32')),
    elementwiseFunction(subtract('bf16')),
    elementwiseFunction(subtract('f32')),
    encodeFunction(),
  ];
}
