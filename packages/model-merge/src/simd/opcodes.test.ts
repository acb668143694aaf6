// Runs every instruction appended to tensor-core's assembler for these kernels on lane values with a
// known answer (computed here lane by lane in JS), so a wrong opcode number or operand order fails
// here with its name rather than as a wrong merge.
import {
  assembleWasmModule,
  wasmOp as op,
  type WasmFunctionDefinition,
  type WasmValueType,
  wasmValueType,
  webAssembly,
} from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';

const { i32, f32, v128 } = wasmValueType;
const wasm = webAssembly();

const [A, B, C, OUT] = [64, 80, 96, 128]; // byte offsets of the operand and result vectors

/** out = instruction(v128 at A[, B[, C]]). */
function vectorFunction(
  name: string,
  operands: number,
  instruction: readonly number[],
): WasmFunctionDefinition {
  const loads = [A, B, C]
    .slice(0, operands)
    .flatMap((pointer) => [...op.i32Const(pointer), ...op.v128Load()]);
  return {
    name,
    parameters: [],
    locals: [],
    body: [...op.i32Const(OUT), ...loads, ...instruction, ...op.v128Store()],
  };
}

/** i32 at OUT = instruction(v128 at A). */
function vectorToI32Function(name: string, instruction: readonly number[]): WasmFunctionDefinition {
  return {
    name,
    parameters: [],
    locals: [],
    body: [...op.i32Const(OUT), ...op.i32Const(A), ...op.v128Load(), ...instruction, ...op.i32Store()],
  };
}

/** OUT = instruction(parameters...) stored with `store`. */
function scalarFunction(
  name: string,
  parameters: WasmValueType[],
  instruction: readonly number[],
  store: readonly number[],
): WasmFunctionDefinition {
  return {
    name,
    parameters,
    locals: [],
    body: [...op.i32Const(OUT), ...parameters.flatMap((_, index) => op.get(index)), ...instruction, ...store],
  };
}

const i32Lanes = Int32Array.of(5, -7, 0x7fffffff, -0x80000000);
const i32LanesB = Int32Array.of(5, 3, -1, 12345);
const f32Lanes = Float32Array.of(1.5, -0, Number.NaN, -2);
const f32LanesB = Float32Array.of(1.5, 0, 1, Number.NEGATIVE_INFINITY);
const bits = (values: Float32Array | Int32Array) => new Uint32Array(values.buffer.slice(0));
const mask = (test: (lane: number) => boolean) =>
  Int32Array.from([0, 1, 2, 3], (lane) => (test(lane) ? -1 : 0));
const f32Map = (f: (a: number, b: number) => number) =>
  Float32Array.from([0, 1, 2, 3], (lane) => f(f32Lanes[lane]!, f32LanesB[lane]!));
const i32Map = (f: (a: number, b: number) => number) =>
  Int32Array.from([0, 1, 2, 3], (lane) => f(i32Lanes[lane]!, i32LanesB[lane]!));
const u32 = (values: number[]) => new Int32Array(Uint32Array.from(values).buffer);
const i16Lanes = new Int16Array(i32Lanes.buffer.slice(0));
const i16LanesB = new Int16Array(i32LanesB.buffer.slice(0));
const i16Map = (f: (a: number, b: number) => number) =>
  Int16Array.from(i16Lanes, (a, lane) => f(a, i16LanesB[lane]!));

/** Vector instructions on (i32Lanes, i32LanesB) or (f32Lanes, f32LanesB), and the expected 16 bytes. */
const vectorCases: [
  string,
  'i32' | 'f32',
  number,
  readonly number[],
  Int32Array | Float32Array | Uint8Array | Int16Array,
][] = [
  ['i32x4Eq', 'i32', 2, op.i32x4Eq, mask((l) => i32Lanes[l] === i32LanesB[l])],
  ['i32x4Ne', 'i32', 2, op.i32x4Ne, mask((l) => i32Lanes[l] !== i32LanesB[l])],
  ['i32x4LtS', 'i32', 2, op.i32x4LtS, mask((l) => i32Lanes[l]! < i32LanesB[l]!)],
  ['i32x4GtS', 'i32', 2, op.i32x4GtS, mask((l) => i32Lanes[l]! > i32LanesB[l]!)],
  ['f32x4Eq', 'f32', 2, op.f32x4Eq, mask((l) => f32Lanes[l] === f32LanesB[l])],
  ['f32x4Ne', 'f32', 2, op.f32x4Ne, mask((l) => f32Lanes[l] !== f32LanesB[l])],
  ['f32x4Lt', 'f32', 2, op.f32x4Lt, mask((l) => f32Lanes[l]! < f32LanesB[l]!)],
  ['f32x4Gt', 'f32', 2, op.f32x4Gt, mask((l) => f32Lanes[l]! > f32LanesB[l]!)],
  ['f32x4Le', 'f32', 2, op.f32x4Le, mask((l) => f32Lanes[l]! <= f32LanesB[l]!)],
  ['f32x4Ge', 'f32', 2, op.f32x4Ge, mask((l) => f32Lanes[l]! >= f32LanesB[l]!)],
  ['v128And', 'i32', 2, op.v128And, i32Map((a, b) => a & b)],
  ['v128AndNot', 'i32', 2, op.v128AndNot, i32Map((a, b) => a & ~b)],
  ['v128Or', 'i32', 2, op.v128Or, i32Map((a, b) => a | b)],
  ['v128Xor', 'i32', 2, op.v128Xor, i32Map((a, b) => a ^ b)],
  ['v128Not', 'i32', 1, op.v128Not, i32Map((a) => ~a)],
  ['i32x4Sub', 'i32', 2, op.i32x4Sub, i32Map((a, b) => (a - b) | 0)],
  ['i32x4Mul', 'i32', 2, op.i32x4Mul, i32Map((a, b) => Math.imul(a, b))],
  ['f32x4Sub', 'f32', 2, op.f32x4Sub, f32Map((a, b) => a - b)],
  ['f32x4Div', 'f32', 2, op.f32x4Div, f32Map((a, b) => a / b)],
  ['f32x4Min', 'f32', 2, op.f32x4Min, f32Map((a, b) => Math.min(a, b))],
  ['f32x4Neg', 'f32', 1, op.f32x4Neg, f32Map((a) => -a)],
  ['i32x4Shl', 'i32', 1, [...op.i32Const(3), ...op.i32x4Shl], i32Map((a) => a << 3)],
  ['i32x4ShrS', 'i32', 1, [...op.i32Const(35), ...op.i32x4ShrS], i32Map((a) => a >> 3)],
  ['i32x4ShrU', 'i32', 1, [...op.i32Const(16), ...op.i32x4ShrU], i32Map((a) => a >>> 16)],
  ['i16x8Shl', 'i32', 1, [...op.i32Const(4), ...op.i16x8Shl], i32Map((a) => (a << 4) & 0xfff0fff0)],
  ['i16x8ShrU', 'i32', 1, [...op.i32Const(4), ...op.i16x8ShrU], i32Map((a) => (a >>> 4) & 0x0fff0fff)],
  // (5, −7, max, min) and (5, 3, −1, 12345) saturated to u16
  ['i16x8NarrowI32x4U', 'i32', 2, op.i16x8NarrowI32x4U, u32([5, 0xffff, 0x30005, 12345 << 16])],
  // the eight i16 lanes of each operand saturated to i8: (5, 0, −7, −1, −1, 0x7fff, 0, −0x8000), (5, 0, 3, 0,
  // −1, −1, 12345, 0)
  [
    'i8x16NarrowI16x8S',
    'i32',
    2,
    op.i8x16NarrowI16x8S,
    Uint8Array.of(5, 0, 0xf9, 0xff, 0xff, 0x7f, 0, 0x80, 5, 0, 3, 0, 0xff, 0xff, 0x7f, 0),
  ],
  // bytes of (5, −7, ...) widened to u16: 5, 0, 0, 0, 0xf9, 0xff, 0xff, 0xff
  [
    'i16x8ExtendLowI8x16U',
    'i32',
    1,
    op.i16x8ExtendLowI8x16U,
    u32([5, 0, 0xf9 | (0xff << 16), 0xff | (0xff << 16)]),
  ],
  [
    'i16x8ExtendHighI8x16U',
    'i32',
    1,
    op.i16x8ExtendHighI8x16U,
    u32([0xff | (0xff << 16), 0xff | (0x7f << 16), 0, 0x80 << 16]),
  ],
  ['i32x4ExtendLowI16x8U', 'i32', 1, op.i32x4ExtendLowI16x8U, u32([5, 0, 0xfff9, 0xffff])],
  ['i32x4ExtendHighI16x8U', 'i32', 1, op.i32x4ExtendHighI16x8U, u32([0xffff, 0x7fff, 0, 0x8000])],
  ['v128Bitselect', 'i32', 3, op.v128Bitselect, i32Map((a, b) => (a & 0x0f0f0f0f) | (b & ~0x0f0f0f0f))],
  // bytes of i32Lanes picked by the bytes of i32LanesB (5, 3, −1, 12345): an index ≥ 16 gives 0
  [
    'i8x16Swizzle',
    'i32',
    2,
    op.i8x16Swizzle,
    Uint8Array.from(new Uint8Array(i32LanesB.buffer), (index) =>
      index < 16 ? new Uint8Array(i32Lanes.buffer)[index]! : 0,
    ),
  ],
  // 16-bit lanes of (5, −7, max, min) and (5, 3, −1, 12345)
  ['i16x8GtS', 'i32', 2, op.i16x8GtS, i16Map((a, b) => (a > b ? -1 : 0))],
  ['i16x8Add', 'i32', 2, op.i16x8Add, i16Map((a, b) => ((a + b) << 16) >> 16)],
  [
    'i32x4ExtaddPairwiseI16x8S',
    'i32',
    1,
    op.i32x4ExtaddPairwiseI16x8S,
    Int32Array.from([0, 1, 2, 3], (lane) => i16Lanes[2 * lane]! + i16Lanes[2 * lane + 1]!),
  ],
  // the low 16 bits of the i32 at A + 8 (0x7fffffff) in eight lanes
  [
    'i16x8Splat',
    'i32',
    0,
    [...op.i32Const(A), ...op.i32Load(8), ...op.i16x8Splat],
    new Int16Array(8).fill(-1),
  ],
];

/** Vector instructions with an i32 answer, on i32Lanes. */
const reductionCases: [string, readonly number[], number][] = [
  ['v128AnyTrue', op.v128AnyTrue, 1],
  ['i32x4Bitmask', op.i32x4Bitmask, 0b1010],
  ['i8x16Bitmask', op.i8x16Bitmask, 0b1000_0111_1111_0000],
  ['i32x4ExtractLane', op.i32x4ExtractLane(2), 0x7fffffff],
];

/** Scalar instructions on (a, b) and their expected results. */
const i32Cases: [string, readonly number[], (a: number, b: number) => number][] = [
  ['i32Eq', op.i32Eq, (a, b) => +(a === b)],
  ['i32Ne', op.i32Ne, (a, b) => +(a !== b)],
  ['i32LtS', op.i32LtS, (a, b) => +(a < b)],
  ['i32GtU', op.i32GtU, (a, b) => +(a >>> 0 > b >>> 0)],
  ['i32Or', op.i32Or, (a, b) => a | b],
  ['i32Xor', op.i32Xor, (a, b) => a ^ b],
  ['i32Popcnt', [...op.drop, ...op.i32Popcnt], (a) => (a >>> 0).toString(2).replaceAll('0', '').length],
  ['i32Ctz', [...op.drop, ...op.i32Ctz], (a) => (a === 0 ? 32 : 31 - Math.clz32(a & -a))],
];
const f32CompareCases: [string, readonly number[], (a: number, b: number) => boolean][] = [
  ['f32Eq', op.f32Eq, (a, b) => a === b],
  ['f32Ne', op.f32Ne, (a, b) => a !== b],
  ['f32Lt', op.f32Lt, (a, b) => a < b],
  ['f32Ge', op.f32Ge, (a, b) => a >= b],
];
const f32ArithmeticCases: [string, readonly number[], (a: number, b: number) => number][] = [
  ['f32Sub', op.f32Sub, (a, b) => Math.fround(a - b)],
  ['f32Abs', [...op.drop, ...op.f32Abs], (a) => Math.abs(a)],
  ['f32Neg', [...op.drop, ...op.f32Neg], (a) => -a],
];

function otherFunctions(): WasmFunctionDefinition[] {
  const store = (value: number) => [...op.i32Const(OUT), ...op.i32Const(value), ...op.i32Store()];
  return [
    { name: 'return', parameters: [], locals: [], body: [...store(1), ...op.return, ...store(2)] },
    // i32.load / i32.store16 / f32.reinterpret_i32 / i32.reinterpret_f32 / f32.convert_i32_u
    {
      name: 'moves',
      parameters: [],
      locals: [],
      body: [
        ...op.i32Const(OUT),
        ...op.i32Const(A),
        ...op.i32Load(4),
        ...op.f32ReinterpretI32,
        ...op.i32ReinterpretF32,
        ...op.i32Store16(2),
        ...op.i32Const(OUT),
        ...op.i32Const(-1),
        ...op.f32ConvertI32U,
        ...op.f32Store(4),
      ],
    },
    // v128.const, i32x4 const/splat, f32x4 const, v128.load64_zero, unaligned v128.store
    {
      name: 'constants',
      parameters: [i32],
      locals: [v128],
      body: [
        ...op.i32Const(OUT + 1),
        ...op.v128Const([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
        ...op.i32x4Const(0x01010101),
        ...op.i32x4Add,
        ...op.v128StoreUnaligned(),
        ...op.i32Const(OUT + 20),
        ...op.get(0),
        ...op.i32x4Splat,
        ...op.f32x4Const(0.5),
        ...op.v128Xor,
        ...op.v128StoreUnaligned(),
        ...op.i32Const(OUT + 40),
        ...op.i32Const(A + 4),
        ...op.v128Load64Zero(),
        ...op.v128StoreUnaligned(),
      ],
    },
  ];
}

describe.skipIf(wasm === undefined)('assembler opcodes added for the merge kernels', () => {
  const functions = [
    ...vectorCases.map(([name, , operands, instruction]) => vectorFunction(name, operands, instruction)),
    ...reductionCases.map(([name, instruction]) => vectorToI32Function(name, instruction)),
    ...i32Cases.map(([name, instruction]) => scalarFunction(name, [i32, i32], instruction, op.i32Store())),
    ...f32CompareCases.map(([name, instruction]) =>
      scalarFunction(name, [f32, f32], instruction, op.i32Store()),
    ),
    ...f32ArithmeticCases.map(([name, instruction]) =>
      scalarFunction(name, [f32, f32], instruction, op.f32Store()),
    ),
    ...otherFunctions(),
  ];
  const bytes = assembleWasmModule(functions, 1, 1);
  const memory = new wasm!.Memory({ initial: 1, maximum: 1, shared: true });
  const heap = new Uint8Array(memory.buffer);
  const exports = new wasm!.Instance(new wasm!.Module(bytes), { env: { memory } }).exports;
  const call = (name: string, ...values: number[]) =>
    Reflect.apply(exports[name] as () => void, undefined, values);
  const result = (length = 16) => heap.slice(OUT, OUT + length);

  it('validates', () => {
    expect(wasm!.validate(bytes)).toBe(true);
  });

  it.each(vectorCases)('%s', (name, type, _operands, _instruction, expected) => {
    heap.set(new Uint8Array(bits(type === 'i32' ? i32Lanes : f32Lanes).buffer), A);
    heap.set(new Uint8Array(bits(type === 'i32' ? i32LanesB : f32LanesB).buffer), B);
    heap.set(new Uint8Array(Int32Array.of(0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f).buffer), C);
    call(name);
    const actual = result();
    if (expected instanceof Float32Array) {
      const floats = new Float32Array(actual.buffer);
      for (let lane = 0; lane < 4; lane++) expect(Object.is(floats[lane], expected[lane])).toBe(true);
    } else expect(Array.from(actual)).toEqual(Array.from(new Uint8Array(expected.buffer)));
  });

  it.each(reductionCases)('%s', (name, _instruction, expected) => {
    heap.set(new Uint8Array(bits(i32Lanes).buffer), A);
    call(name);
    expect(new Int32Array(result(4).buffer)[0]).toBe(expected);
  });

  it.each(i32Cases)('%s', (name, _instruction, expected) => {
    for (const [a, b] of [
      [3, 3],
      [-1, 2],
      [0x7f0f00f1, -0x10],
      [0x500, 0],
      [0, 5],
    ] as const) {
      call(name, a, b);
      expect(new Int32Array(result(4).buffer)[0]).toBe(expected(a, b) | 0);
    }
  });

  it.each(f32CompareCases)('%s', (name, _instruction, expected) => {
    for (const [a, b] of [
      [1.5, 1.5],
      [-0, 0],
      [Number.NaN, 1],
      [-3, 2],
    ] as const) {
      call(name, a, b);
      expect(new Int32Array(result(4).buffer)[0]).toBe(+expected(a, b));
    }
  });

  it.each(f32ArithmeticCases)('%s', (name, _instruction, expected) => {
    for (const [a, b] of [
      [1.5, 0.25],
      [-0, 0],
      [-3, 1e-30],
    ] as const) {
      call(name, a, b);
      expect(Object.is(new Float32Array(result(4).buffer)[0], expected(a, b))).toBe(true);
    }
  });

  it('return, loads, stores, reinterpretations, conversion and constants', () => {
    call('return');
    expect(new Int32Array(result(4).buffer)[0]).toBe(1);
    heap.set(new Uint8Array(Uint32Array.of(0, 0xbeef1234).buffer), A);
    heap.fill(0, OUT, OUT + 64);
    call('moves');
    expect(new Uint16Array(result(4).buffer)[1]).toBe(0x1234);
    expect(new Float32Array(result(8).buffer)[1]).toBe(4294967296);
    heap.set(new Uint8Array(Uint32Array.of(0, 0x11223344, 0x55667788, 0x99aabbcc).buffer), A);
    heap.fill(0xee, OUT, OUT + 64);
    call('constants', 0x0f0f0f0f);
    expect(Array.from(heap.slice(OUT, OUT + 18))).toEqual([
      0xee,
      ...Array.from({ length: 16 }, (_, i) => i + 2),
      0xee,
    ]);
    const half = new Uint32Array(Float32Array.of(0.5).buffer)[0]!;
    expect(Array.from(new Uint32Array(heap.slice(OUT + 20, OUT + 36).buffer))).toEqual(
      new Array(4).fill((half ^ 0x0f0f0f0f) >>> 0),
    );
    expect(Array.from(new Uint32Array(heap.slice(OUT + 40, OUT + 56).buffer))).toEqual([
      0x11223344, 0x55667788, 0, 0,
    ]);
  });
});
