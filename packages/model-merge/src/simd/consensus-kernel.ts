// TIES sign consensus of two task vectors in f32: the hot loop of ties / dare_ties / della merges of two
// models (task-arithmetic.ts's consensusKernel, n = 2 without countSign, rounded to f32 at every step).
// Semantics: reference.ts consensus2.
import { wasmOp as op, type WasmFunctionDefinition, wasmValueType } from '@meld/tensor-core';
import { advance, blockEnd, elementEnd, loadVector, splatF32, storeVector, whileBelow } from './instructions';

const { i32, f32, v128 } = wasmValueType;

/** |divisor| below this (as f32) divides by 1 instead. */
export const CONSENSUS_EPSILON = 1e-8;

// parameters
const [out, b, x, y, n, fx, fy, wx, wy, dx, dy, normalize, lambda] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
// i32 locals
const [end, vectorEnd] = [13, 14];
// f32 locals
const [tx, ty, vx, vy, mx, my, mixed] = [15, 16, 17, 18, 19, 20, 21];
// v128 locals: splatted parameters, then temporaries
const [fxV, fyV, wxV, wyV, dxV, dyV, lambdaV] = [22, 23, 24, 25, 26, 27, 28];
const [txV, tyV, vxV, vyV, flipV, mxV, myV, mixedV, divisorsV] = [29, 30, 31, 32, 33, 34, 35, 36, 37];

const locals = [
  ...[i32, i32],
  ...[f32, f32, f32, f32, f32, f32, f32],
  ...[v128, v128, v128, v128, v128, v128, v128],
  ...[v128, v128, v128, v128, v128, v128, v128, v128, v128],
];

/**
 * A lane mask, all ones where sign(v) is the elected sign: v with its sign flipped where the elected sign is
 * − (flipV), compared > 0 (so 0 and NaN never agree).
 */
function agreementVector(v: number): number[] {
  return [...op.get(v), ...op.get(flipV), ...op.v128Xor, ...op.v128Zero, ...op.f32x4Gt];
}

/** 1.0 where the agreement mask in local `mask` is set, else 0.0. */
function agreementValue(mask: number): number[] {
  return [...op.get(mask), ...op.f32x4Const(1), ...op.v128And];
}

/**
 * The divisor of each lane, |mx·dx + my·dy| < ε ? 1 : mx·dx + my·dy, is one of four values fixed by
 * (mx, my); the prologue computes them into the lanes 0..3 of divisorsV (lane mx + 2·my) and each step
 * looks them up with one swizzle, its byte indices 4·(mx + 2·my) + [0, 1, 2, 3] built from the masks.
 */
function divisorVector(): number[] {
  return [
    ...op.get(divisorsV),
    ...op.get(mxV),
    ...op.i32x4Const(0x04040404),
    ...op.v128And,
    ...op.get(myV),
    ...op.i32x4Const(0x08080808),
    ...op.v128And,
    ...op.v128Or,
    ...op.i32x4Const(0x03020100),
    ...op.v128Or,
    ...op.i8x16Swizzle,
  ];
}

/** divisorsV = the four safe divisors for (mx, my) = (0, 0), (1, 0), (0, 1), (1, 1), as the scalar step. */
function divisorTable(): number[] {
  return [
    ...op.v128Const(new Uint8Array(Float32Array.of(0, 1, 0, 1).buffer)),
    ...op.get(dxV),
    ...op.f32x4Mul,
    ...op.v128Const(new Uint8Array(Float32Array.of(0, 0, 1, 1).buffer)),
    ...op.get(dyV),
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.set(divisorsV),
    ...op.f32x4Const(1),
    ...op.get(divisorsV),
    ...op.get(divisorsV),
    ...op.f32x4Abs,
    ...op.f32x4Const(CONSENSUS_EPSILON),
    ...op.f32x4Lt,
    ...op.v128Bitselect,
    ...op.set(divisorsV),
  ];
}

/** The four elements at byte `offset` of every array. */
function vectorStep(offset: number, normalized: boolean): number[] {
  return [
    ...loadVector(x, offset),
    ...op.tee(txV),
    ...op.get(fxV),
    ...op.f32x4Mul,
    ...op.tee(vxV),
    ...loadVector(y, offset),
    ...op.tee(tyV),
    ...op.get(fyV),
    ...op.f32x4Mul,
    ...op.tee(vyV),
    ...op.f32x4Add,
    ...op.v128Zero,
    ...op.f32x4Ge,
    // the sign bit where the elected sign is −: andnot(sign bit, elected +)
    ...op.set(flipV),
    ...op.i32x4Const(-0x80000000),
    ...op.get(flipV),
    ...op.v128AndNot,
    ...op.set(flipV),
    ...agreementVector(vxV),
    ...op.set(mxV),
    ...agreementVector(vyV),
    ...op.set(myV),
    // mixed = mx·(wx·tx) + my·(wy·ty)
    ...agreementValue(mxV),
    ...op.get(wxV),
    ...op.get(txV),
    ...op.f32x4Mul,
    ...op.f32x4Mul,
    ...agreementValue(myV),
    ...op.get(wyV),
    ...op.get(tyV),
    ...op.f32x4Mul,
    ...op.f32x4Mul,
    ...op.f32x4Add,
    // mixed / (|divisor| < ε ? 1 : divisor), divisor = mx·dx + my·dy
    ...(normalized ? [...divisorVector(), ...op.f32x4Div] : []),
    ...op.set(mixedV),
    ...storeVector(out, offset, [
      ...loadVector(b, offset),
      ...op.get(lambdaV),
      ...op.get(mixedV),
      ...op.f32x4Mul,
      ...op.f32x4Add,
    ]),
  ];
}

/** 1.0 when sign(v) equals the elected sign, else 0.0 (an f32 on the stack). */
function agreementScalar(v: number, positive: number[]): number[] {
  return [
    ...op.get(v),
    ...op.f32Const0,
    ...op.f32Gt,
    ...op.get(v),
    ...op.f32Const0,
    ...op.f32Lt,
    ...positive,
    ...op.select,
    ...op.f32ConvertI32U,
  ];
}

function scalarStep(normalized: boolean): number[] {
  const positive = [...op.get(vx), ...op.get(vy), ...op.f32Add, ...op.f32Const0, ...op.f32Ge];
  return [
    ...op.get(x),
    ...op.f32Load(),
    ...op.tee(tx),
    ...op.get(fx),
    ...op.f32Mul,
    ...op.set(vx),
    ...op.get(y),
    ...op.f32Load(),
    ...op.tee(ty),
    ...op.get(fy),
    ...op.f32Mul,
    ...op.set(vy),
    ...agreementScalar(vx, positive),
    ...op.set(mx),
    ...agreementScalar(vy, positive),
    ...op.set(my),
    ...op.get(mx),
    ...op.get(wx),
    ...op.get(tx),
    ...op.f32Mul,
    ...op.f32Mul,
    ...op.get(my),
    ...op.get(wy),
    ...op.get(ty),
    ...op.f32Mul,
    ...op.f32Mul,
    ...op.f32Add,
    ...op.set(mixed),
    ...(normalized
      ? [
          ...op.get(mixed),
          ...op.get(mx),
          ...op.get(dx),
          ...op.f32Mul,
          ...op.get(my),
          ...op.get(dy),
          ...op.f32Mul,
          ...op.f32Add,
          ...op.set(tx), // divisor
          ...op.f32Const(1),
          ...op.get(tx),
          ...op.get(tx),
          ...op.f32Abs,
          ...op.f32Const(CONSENSUS_EPSILON),
          ...op.f32Lt,
          ...op.select,
          ...op.f32Div,
          ...op.set(mixed),
        ]
      : []),
    ...op.get(out),
    ...op.get(b),
    ...op.f32Load(),
    ...op.get(lambda),
    ...op.get(mixed),
    ...op.f32Mul,
    ...op.f32Add,
    ...op.f32Store(),
  ];
}

const advanceAll = (bytes: number) => [out, b, x, y].flatMap((pointer) => advance(pointer, bytes));

function loops(normalized: boolean): number[] {
  return [
    ...whileBelow(x, vectorEnd, [
      ...vectorStep(0, normalized),
      ...vectorStep(16, normalized),
      ...advanceAll(32),
    ]),
    ...whileBelow(x, end, [...scalarStep(normalized), ...advanceAll(4)]),
  ];
}

/**
 * consensus2(out, b, x, y f32*, n, fx, fy, wx, wy, dx, dy f32, normalize i32, lambda f32):
 * out[i] = b[i] + λ·mixed (see reference.ts consensus2).
 */
export function consensusFunction(): WasmFunctionDefinition {
  const body = [
    ...[
      [fxV, fx],
      [fyV, fy],
      [wxV, wx],
      [wyV, wy],
      [dxV, dx],
      [dyV, dy],
      [lambdaV, lambda],
    ].flatMap(([vector, scalar]) => splatF32(vector!, scalar!)),
    ...divisorTable(),
    ...blockEnd(vectorEnd, x, n, 8, 2),
    ...elementEnd(end, x, n, 2),
    ...op.get(normalize),
    ...op.if,
    ...loops(true),
    ...op.else,
    ...loops(false),
    ...op.end,
  ];
  return {
    name: 'consensus2',
    parameters: [i32, i32, i32, i32, i32, f32, f32, f32, f32, f32, f32, i32, f32],
    locals,
    body,
  };
}
