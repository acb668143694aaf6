// A tiny WebAssembly binary writer: just enough to emit the SIMD kernels in simd-module.ts without a
// toolchain. Reference: https://webassembly.github.io/spec/core/binary/ and the SIMD proposal's opcode table.

export function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

export function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

export const valueType = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;
export type ValueType = (typeof valueType)[keyof typeof valueType];

/** Instruction encoders. Memory operands take (alignment log2, constant byte offset). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsignedLeb(depth)],
  brIf: (depth: number) => [0x0d, ...unsignedLeb(depth)],
  get: (index: number) => [0x20, ...unsignedLeb(index)],
  set: (index: number) => [0x21, ...unsignedLeb(index)],
  tee: (index: number) => [0x22, ...unsignedLeb(index)],
  i32Const: (value: number) => [0x41, ...signedLeb(value)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32DivU: [0x6e],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  i32And: [0x71],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Eqz: [0x45],
  /** select: the first operand when the i32 condition is non-zero, else the second. */
  select: [0x1b],
  f32ConvertI32S: [0xb2],
  i32Load8S: (offset = 0) => [0x2c, 0, ...unsignedLeb(offset)],
  f32Load: (offset = 0) => [0x2a, 2, ...unsignedLeb(offset)],
  i32Load16U: (offset = 0) => [0x2f, 1, ...unsignedLeb(offset)],
  f32Store: (offset = 0) => [0x38, 2, ...unsignedLeb(offset)],
  f32Add: [0x92],
  f32Mul: [0x94],
  f32Const0: [0x43, 0, 0, 0, 0],
  f32Const: (value: number) => [0x43, ...new Uint8Array(Float32Array.of(value).buffer)],
  f32Div: [0x95],
  f32Max: [0x97],
  f32Gt: [0x5e],
  v128Load: (offset = 0) => [0xfd, 0x00, 4, ...unsignedLeb(offset)],
  /** v128.load with alignment hint 1 (q8_0 blocks are 34 bytes, so their int8 payload is unaligned). */
  v128LoadUnaligned: (offset = 0) => [0xfd, 0x00, 0, ...unsignedLeb(offset)],
  /** v128.load32_splat: one f32 from memory into all four lanes (a single vbroadcastss on x64). */
  v128Load32Splat: (offset = 0) => [0xfd, 0x09, 2, ...unsignedLeb(offset)],
  v128Store: (offset = 0) => [0xfd, 0x0b, 4, ...unsignedLeb(offset)],
  /** v128.load8x8_s: eight int8 from memory, sign-extended to eight int16 lanes (one pmovsxbw on x64). */
  v128Load8x8S: (offset = 0) => [0xfd, 0x01, 0, ...unsignedLeb(offset)],
  v128Zero: [0xfd, 0x0c, ...new Array<number>(16).fill(0)],
  f32x4Splat: [0xfd, 0x13],
  f32x4ExtractLane: (lane: number) => [0xfd, 0x1f, lane],
  f32x4Add: [0xfd, 0xe4, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
  /** i8x16.shuffle of two vectors by 16 byte indices (0-15 first operand, 16-31 second). */
  i8x16Shuffle: (lanes: number[]) => [0xfd, 0x0d, ...lanes],
  f32x4Abs: [0xfd, 0xe0, 0x01],
  f32x4Max: [0xfd, 0xe9, 0x01],
  /** f32x4.nearest: round to the nearest integer, ties to even. */
  f32x4Nearest: [0xfd, 0x6a],
  i32x4TruncSatF32x4S: [0xfd, 0xf8, 0x01],
  i16x8NarrowI32x4S: [0xfd, 0x85, 0x01],
  i16x8ExtendLowI8x16S: [0xfd, 0x87, 0x01],
  i16x8ExtendHighI8x16S: [0xfd, 0x88, 0x01],
  i32x4Add: [0xfd, 0xae, 0x01],
  /** i32x4.dot_i16x8_s: pairwise products of eight int16 lanes summed into four int32 lanes (pmaddwd). */
  i32x4DotI16x8S: [0xfd, 0xba, 0x01],
  i32x4ExtendLowI16x8S: [0xfd, 0xa7, 0x01],
  i32x4ExtendHighI16x8S: [0xfd, 0xa8, 0x01],
  f32x4ConvertI32x4S: [0xfd, 0xfa, 0x01],
  // Appended for model-merge's bulk kernels (bf16 codecs, histograms, top-k, TIES consensus). Opcode numbers
  // from the core binary format's instruction index and the fixed-width SIMD opcode table
  // (https://webassembly.github.io/spec/core/binary/instructions.html); model-merge's src/simd/opcodes.test.ts
  // runs each one.
  return: [0x0f],
  drop: [0x1a],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtS: [0x48],
  i32GtU: [0x4b],
  i32Or: [0x72],
  i32Xor: [0x73],
  i32Popcnt: [0x69],
  i32Load: (offset = 0) => [0x28, 2, ...unsignedLeb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...unsignedLeb(offset)],
  i32Store16: (offset = 0) => [0x3b, 1, ...unsignedLeb(offset)],
  f32Abs: [0x8b],
  f32Neg: [0x8c],
  f32Sub: [0x93],
  f32Eq: [0x5b],
  f32Ne: [0x5c],
  f32Lt: [0x5d],
  f32Ge: [0x60],
  /** i32.reinterpret_f32 / f32.reinterpret_i32: the same 32 bits seen as the other type. */
  i32ReinterpretF32: [0xbc],
  f32ReinterpretI32: [0xbe],
  f32ConvertI32U: [0xb3],
  /** v128.store with alignment hint 1 (model-merge's pointers are only element-aligned). */
  v128StoreUnaligned: (offset = 0) => [0xfd, 0x0b, 0, ...unsignedLeb(offset)],
  /** v128.load64_zero: eight bytes into the low half, the high half zeroed. */
  v128Load64Zero: (offset = 0) => [0xfd, 0x5d, 0, ...unsignedLeb(offset)],
  /** v128.const of sixteen bytes (little-endian lanes). */
  v128Const: (bytes: ArrayLike<number>) => [0xfd, 0x0c, ...Array.from(bytes)],
  /** v128.const with four equal i32 lanes. */
  i32x4Const: (value: number) => [
    0xfd,
    0x0c,
    ...new Uint8Array(Int32Array.of(value, value, value, value).buffer),
  ],
  /** v128.const with four equal f32 lanes (value rounded to f32). */
  f32x4Const: (value: number) => [
    0xfd,
    0x0c,
    ...new Uint8Array(Float32Array.of(value, value, value, value).buffer),
  ],
  i32x4Splat: [0xfd, 0x11],
  i32x4ExtractLane: (lane: number) => [0xfd, 0x1b, lane],
  i32x4Eq: [0xfd, 0x37],
  i32x4Ne: [0xfd, 0x38],
  i32x4LtS: [0xfd, 0x39],
  i32x4GtS: [0xfd, 0x3b],
  f32x4Eq: [0xfd, 0x41],
  f32x4Ne: [0xfd, 0x42],
  f32x4Lt: [0xfd, 0x43],
  f32x4Gt: [0xfd, 0x44],
  f32x4Le: [0xfd, 0x45],
  f32x4Ge: [0xfd, 0x46],
  v128Not: [0xfd, 0x4d],
  v128And: [0xfd, 0x4e],
  /** v128.andnot: first operand AND NOT second. */
  v128AndNot: [0xfd, 0x4f],
  v128Or: [0xfd, 0x50],
  v128Xor: [0xfd, 0x51],
  /** v128.bitselect(a, b, mask): bits of a where mask is 1, of b where it is 0. */
  v128Bitselect: [0xfd, 0x52],
  /** v128.any_true: 1 when any bit is set. */
  v128AnyTrue: [0xfd, 0x53],
  i8x16Bitmask: [0xfd, 0x64],
  i16x8NarrowI32x4U: [0xfd, 0x86, 0x01],
  i16x8ExtendLowI8x16U: [0xfd, 0x89, 0x01],
  i16x8ExtendHighI8x16U: [0xfd, 0x8a, 0x01],
  i16x8Shl: [0xfd, 0x8b, 0x01],
  i16x8ShrU: [0xfd, 0x8d, 0x01],
  i32x4Bitmask: [0xfd, 0xa4, 0x01],
  i32x4ExtendLowI16x8U: [0xfd, 0xa9, 0x01],
  i32x4ExtendHighI16x8U: [0xfd, 0xaa, 0x01],
  /** i32x4 shifts take the vector, then an i32 count (mod 32). */
  i32x4Shl: [0xfd, 0xab, 0x01],
  i32x4ShrS: [0xfd, 0xac, 0x01],
  i32x4ShrU: [0xfd, 0xad, 0x01],
  i32x4Sub: [0xfd, 0xb1, 0x01],
  i32x4Mul: [0xfd, 0xb5, 0x01],
  f32x4Neg: [0xfd, 0xe1, 0x01],
  f32x4Sub: [0xfd, 0xe5, 0x01],
  f32x4Div: [0xfd, 0xe7, 0x01],
  f32x4Min: [0xfd, 0xe8, 0x01],
  /** i32.ctz: the number of trailing zero bits (32 for 0). */
  i32Ctz: [0x68],
  /** i8x16.swizzle(table, indices): byte i = table[indices[i]], 0 where an index is ≥ 16. */
  i8x16Swizzle: [0xfd, 0x0e],
  /** i8x16.narrow_i16x8_s: sixteen i16 lanes of two vectors saturated to i8 (lane masks stay masks). */
  i8x16NarrowI16x8S: [0xfd, 0x65],
  /** i16x8.splat: eight lanes of the low 16 bits of an i32. */
  i16x8Splat: [0xfd, 0x10],
  /** i16x8.gt_s: lane masks (−1 / 0) of a > b, signed 16-bit lanes. */
  i16x8GtS: [0xfd, 0x31],
  /** i16x8.add (wrapping). */
  i16x8Add: [0xfd, 0x8e, 0x01],
  /** i32x4.extadd_pairwise_i16x8_s: lane j = sign-extended i16 lanes 2j + 2j+1, summed. */
  i32x4ExtaddPairwiseI16x8S: [0xfd, 0x7e],
} as const;

export interface FunctionDefinition {
  name: string;
  parameters: ValueType[];
  locals: ValueType[];
  body: number[];
}

/** A module importing one shared memory `env.memory` (min/max in 64 KiB pages) and exporting `functions`. */
export function assembleModule(
  functions: FunctionDefinition[],
  minimumPages: number,
  maximumPages: number,
): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.parameters.map((p) => [p])), 0x00]);
  const imports = vector([
    [
      ...name('env'),
      ...name('memory'),
      0x02,
      0x03,
      ...unsignedLeb(minimumPages),
      ...unsignedLeb(maximumPages),
    ],
  ]);
  const functionTypes = vector(functions.map((_, index) => unsignedLeb(index)));
  const exports = vector(functions.map((f, index) => [...name(f.name), 0x00, ...unsignedLeb(index)]));
  const bodies = functions.map((f) => {
    const locals = vector(f.locals.map((type) => [1, type]));
    const content = [...locals, ...f.body, 0x0b];
    return [...unsignedLeb(content.length), ...content];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector(types)),
    ...section(2, imports),
    ...section(3, functionTypes),
    ...section(7, exports),
    ...section(10, vector(bodies)),
  ]);
}

/** Instruction sequences the kernels share. */
export const snippet = {
  /** local += value (i32). */
  addTo: (local: number, value: number[]) => [...op.get(local), ...value, ...op.i32Add, ...op.set(local)],
  /** The f32 sum of an f32x4 local's lanes, (l0 + l1) + (l2 + l3), left on the stack. */
  horizontalSum: (vector: number) => [
    ...op.get(vector),
    ...op.f32x4ExtractLane(0),
    ...op.get(vector),
    ...op.f32x4ExtractLane(1),
    ...op.f32Add,
    ...op.get(vector),
    ...op.f32x4ExtractLane(2),
    ...op.get(vector),
    ...op.f32x4ExtractLane(3),
    ...op.f32Add,
    ...op.f32Add,
  ],
  /** while (counter < limit) body; (unsigned; the body advances counter). */
  whileBelow: (counter: number, limit: number, body: number[]) => [
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
  ],
};
