// Instruction sequences the merge kernels share, on top of tensor-core's assembler (`wasmOp`).
import { wasmOp as op } from '@meld/tensor-core';

/** while (counter < limit) body (unsigned pointers; the body advances counter). */
export function whileBelow(counter: number, limit: number, body: number[]): number[] {
  return [
    ...op.block,
    ...op.get(counter),
    ...op.get(limit),
    ...op.i32GeU,
    ...op.brIf(0),
    ...op.loop,
    ...body,
    ...op.get(counter),
    ...op.get(limit),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
    ...op.end,
  ];
}

/** local += bytes (i32). */
export function advance(local: number, bytes: number): number[] {
  return [...op.get(local), ...op.i32Const(bytes), ...op.i32Add, ...op.set(local)];
}

/** target = base + ((n & ~(block − 1)) << shift): the end of the whole blocks of `block` elements. */
export function blockEnd(target: number, base: number, n: number, block: number, shift: number): number[] {
  return [
    ...op.get(base),
    ...op.get(n),
    ...op.i32Const(-block),
    ...op.i32And,
    ...op.i32Const(shift),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(target),
  ];
}

/** target = base + (n << shift): the end of all n elements. */
export function elementEnd(target: number, base: number, n: number, shift: number): number[] {
  return [
    ...op.get(base),
    ...op.get(n),
    ...op.i32Const(shift),
    ...op.i32Shl,
    ...op.i32Add,
    ...op.set(target),
  ];
}

/** An unaligned v128 load from local pointer + offset. */
export function loadVector(pointer: number, offset = 0): number[] {
  return [...op.get(pointer), ...op.v128LoadUnaligned(offset)];
}

/** An unaligned v128 store of `value` (code leaving a v128) to local pointer + offset. */
export function storeVector(pointer: number, offset: number, value: number[]): number[] {
  return [...op.get(pointer), ...value, ...op.v128StoreUnaligned(offset)];
}

/** local = splat(f32 parameter). */
export function splatF32(target: number, source: number): number[] {
  return [...op.get(source), ...op.f32x4Splat, ...op.set(target)];
}

/** local = splat(i32 parameter). */
export function splatI32(target: number, source: number): number[] {
  return [...op.get(source), ...op.i32x4Splat, ...op.set(target)];
}

/** The f32 decoded from the bf16 word at local pointer + offset (bits word << 16). */
export function loadBf16Scalar(pointer: number, offset = 0): number[] {
  return [
    ...op.get(pointer),
    ...op.i32Load16U(offset),
    ...op.i32Const(16),
    ...op.i32Shl,
    ...op.f32ReinterpretI32,
  ];
}

/** i8x16.shuffle(zero, words) lanes that widen words 0-3 (low) or 4-7 (high) to f32 bits word << 16. */
export const widenLowLanes = [0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23];
export const widenHighLanes = [8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31];

/** Two f32x4 of the bf16 words vector in local `words`: lanes 0-3 (high = false) or 4-7. */
export function widenBf16(words: number, high: boolean): number[] {
  return [...op.v128Zero, ...op.get(words), ...op.i8x16Shuffle(high ? widenHighLanes : widenLowLanes)];
}

/** hist[address] += 1 for an i32 byte address on the stack, via local `address`. */
export function increment(address: number): number[] {
  return [
    ...op.tee(address),
    ...op.get(address),
    ...op.i32Load(),
    ...op.i32Const(1),
    ...op.i32Add,
    ...op.i32Store(),
  ];
}
