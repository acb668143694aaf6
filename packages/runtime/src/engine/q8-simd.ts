// A WebAssembly SIMD matvec for GGML q8_0 weights, reading the blocks in place (f16 scale + 32 int8).
// The input vector is quantized per 32-block to int16 (scale max|x| / 32767, finer than llama.cpp's
// int8 activations); each block is four i32x4.dot_i16x8_s, converted to f32 and scaled by
// scale_w * scale_x. The weights live in this module's own memory, copied once at load.
import { f16ToF32 } from '@meld/tensor-core';

const PAGE = 65536;

// The WebAssembly global is not in the ES2023 + node typings this repo compiles with: the part used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly kind?: 'module';
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
const wasm: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Bytes of the module (hand-assembled; the opcodes are WebAssembly 2.0 SIMD). */
function moduleBytes(): Uint8Array {
  const simd = (opcode: number) => [0xfd, ...leb(opcode)];
  const load = (offset: number, align = 0) => [...simd(0x00), align, ...leb(offset)];
  const localGet = (i: number) => [0x20, i];
  const localSet = (i: number) => [0x21, i];
  const i32Const = (v: number) => [0x41, ...sleb(v)];
  const [w, xq, xs, out, rows, blocks, table, r, b, xp, sp, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const extendLow = simd(0x87);
  const extendHigh = simd(0x88);
  const dot = simd(0xba);
  const i32x4Add = simd(0xae);
  const blockDot = (weightOffset: number, extend: number[], xOffset: number) => [
    ...localGet(w),
    ...load(weightOffset),
    ...extend,
    ...localGet(xp),
    ...load(xOffset, 4),
    ...dot,
  ];
  const body = [
    ...i32Const(0),
    ...localSet(r),
    0x02,
    0x40, // block $done
    0x03,
    0x40, // loop $rows
    ...localGet(r),
    ...localGet(rows),
    0x4f,
    0x0d,
    1, // br_if $done (r >= rows)
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...localSet(acc),
    ...i32Const(0),
    ...localSet(b),
    ...localGet(xq),
    ...localSet(xp),
    ...localGet(xs),
    ...localSet(sp),
    0x02,
    0x40, // block $blocksDone
    0x03,
    0x40, // loop $blocks
    ...localGet(b),
    ...localGet(blocks),
    0x4f,
    0x0d,
    1,
    ...blockDot(2, extendLow, 0),
    ...blockDot(2, extendHigh, 16),
    ...i32x4Add,
    ...blockDot(18, extendLow, 32),
    ...i32x4Add,
    ...blockDot(18, extendHigh, 48),
    ...i32x4Add,
    ...simd(0xfa), // f32x4.convert_i32x4_s
    ...localGet(table),
    ...localGet(w),
    0x2f,
    0,
    0,
    ...i32Const(2),
    0x74,
    0x6a,
    0x2a,
    2,
    0, // table[u16(w)]
    ...localGet(sp),
    0x2a,
    2,
    0, // xs[b]
    0x94, // f32.mul
    ...simd(0x13), // f32x4.splat
    ...simd(0xe6), // f32x4.mul
    ...localGet(acc),
    ...simd(0xe4),
    ...localSet(acc),
    ...localGet(w),
    ...i32Const(34),
    0x6a,
    ...localSet(w),
    ...localGet(xp),
    ...i32Const(64),
    0x6a,
    ...localSet(xp),
    ...localGet(sp),
    ...i32Const(4),
    0x6a,
    ...localSet(sp),
    ...localGet(b),
    ...i32Const(1),
    0x6a,
    ...localSet(b),
    0x0c,
    0, // br $blocks
    0x0b,
    0x0b,
    ...localGet(out),
    ...localGet(r),
    ...i32Const(2),
    0x74,
    0x6a,
    ...localGet(acc),
    ...simd(0x1f),
    0,
    ...localGet(acc),
    ...simd(0x1f),
    1,
    0x92,
    ...localGet(acc),
    ...simd(0x1f),
    2,
    ...localGet(acc),
    ...simd(0x1f),
    3,
    0x92,
    0x92,
    0x38,
    2,
    0, // f32.store
    ...localGet(r),
    ...i32Const(1),
    0x6a,
    ...localSet(r),
    0x0c,
    0, // br $rows
    0x0b,
    0x0b,
    0x0b, // end function
  ];
  // matvec2(w, xq, xs, out, rows, blocks, table, rowBytes): rows in pairs (rows even), sharing the
  // input loads between the two weight rows.
  const [rowBytes, w2, x0, x1, x2, x3, acc2] = [7, 12, 13, 14, 15, 16, 17];
  const [r2, b2, xp2, sp2, accA] = [8, 9, 10, 11, 18];
  const pairBlock = (pointer: number, target: number) => [
    ...localGet(pointer),
    ...load(2),
    ...extendLow,
    ...localGet(x0),
    ...dot,
    ...localGet(pointer),
    ...load(2),
    ...extendHigh,
    ...localGet(x1),
    ...dot,
    ...i32x4Add,
    ...localGet(pointer),
    ...load(18),
    ...extendLow,
    ...localGet(x2),
    ...dot,
    ...i32x4Add,
    ...localGet(pointer),
    ...load(18),
    ...extendHigh,
    ...localGet(x3),
    ...dot,
    ...i32x4Add,
    ...simd(0xfa),
    ...localGet(table),
    ...localGet(pointer),
    0x2f,
    0,
    0,
    ...i32Const(2),
    0x74,
    0x6a,
    0x2a,
    2,
    0,
    ...localGet(sp2),
    0x2a,
    2,
    0,
    0x94,
    ...simd(0x13),
    ...simd(0xe6),
    ...localGet(target),
    ...simd(0xe4),
    ...localSet(target),
  ];
  const horizontal = (vector: number) => [
    ...localGet(vector),
    ...simd(0x1f),
    0,
    ...localGet(vector),
    ...simd(0x1f),
    1,
    0x92,
    ...localGet(vector),
    ...simd(0x1f),
    2,
    ...localGet(vector),
    ...simd(0x1f),
    3,
    0x92,
    0x92,
  ];
  const pairBody = [
    ...i32Const(0),
    ...localSet(r2),
    0x02,
    0x40,
    0x03,
    0x40,
    ...localGet(r2),
    ...localGet(rows),
    0x4f,
    0x0d,
    1,
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...localSet(accA),
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...localSet(acc2),
    ...localGet(w),
    ...localGet(rowBytes),
    0x6a,
    ...localSet(w2),
    ...i32Const(0),
    ...localSet(b2),
    ...localGet(xq),
    ...localSet(xp2),
    ...localGet(xs),
    ...localSet(sp2),
    0x02,
    0x40,
    0x03,
    0x40,
    ...localGet(b2),
    ...localGet(blocks),
    0x4f,
    0x0d,
    1,
    ...localGet(xp2),
    ...load(0, 4),
    ...localSet(x0),
    ...localGet(xp2),
    ...load(16, 4),
    ...localSet(x1),
    ...localGet(xp2),
    ...load(32, 4),
    ...localSet(x2),
    ...localGet(xp2),
    ...load(48, 4),
    ...localSet(x3),
    ...pairBlock(w, accA),
    ...pairBlock(w2, acc2),
    ...localGet(w),
    ...i32Const(34),
    0x6a,
    ...localSet(w),
    ...localGet(w2),
    ...i32Const(34),
    0x6a,
    ...localSet(w2),
    ...localGet(xp2),
    ...i32Const(64),
    0x6a,
    ...localSet(xp2),
    ...localGet(sp2),
    ...i32Const(4),
    0x6a,
    ...localSet(sp2),
    ...localGet(b2),
    ...i32Const(1),
    0x6a,
    ...localSet(b2),
    0x0c,
    0,
    0x0b,
    0x0b,
    ...localGet(out),
    ...localGet(r2),
    ...i32Const(2),
    0x74,
    0x6a,
    ...horizontal(accA),
    0x38,
    2,
    0,
    ...localGet(out),
    ...localGet(r2),
    ...i32Const(2),
    0x74,
    0x6a,
    ...horizontal(acc2),
    0x38,
    2,
    4,
    ...localGet(w2),
    ...localSet(w),
    ...localGet(r2),
    ...i32Const(2),
    0x6a,
    ...localSet(r2),
    0x0c,
    0,
    0x0b,
    0x0b,
    0x0b,
  ];
  // params 0..7; locals: 8..12 i32 (r, b, xp, sp, w2), 13..18 v128 (x0..x3, acc2, acc)
  const pairCode = [0x02, 0x05, 0x7f, 0x06, 0x7b, ...pairBody];
  const locals = [0x02, 0x04, 0x7f, 0x01, 0x7b];
  const code = [...locals, ...body];
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const name = (text: string) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(
      1,
      [
        2, 0x60, 7, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0, 0x60, 8, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
        0x7f, 0x7f, 0,
      ],
    ),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name('matvec'), 0x00, 0, ...name('matvec2'), 0x00, 1]),
    ...section(10, [2, ...leb(code.length), ...code, ...leb(pairCode.length), ...pairCode]),
  ]);
}

function leb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

let compiled: WasmModule | null | undefined;

function compiledModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      const bytes = moduleBytes();
      compiled = wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** True where the q8_0 SIMD kernel compiles. */
export function q8SimdSupported(): boolean {
  return compiledModule() !== null;
}

/** Placed q8_0 weights of one model and the kernel that reads them. */
export class Q8SimdStore {
  private readonly memory: WasmMemory;
  private readonly matvecKernel: (...args: number[]) => void;
  private readonly pairKernel: (...args: number[]) => void;
  private top: number;
  private readonly tableOffset = 64;
  private scratchOffset = 0;

  constructor() {
    const module = compiledModule();
    if (!module || !wasm) throw new Error('WebAssembly SIMD is unavailable');
    this.memory = new wasm.Memory({ initial: 8 });
    const instance = new wasm.Instance(module, { env: { memory: this.memory } });
    this.matvecKernel = instance.exports.matvec as (...args: number[]) => void;
    this.pairKernel = instance.exports.matvec2 as (...args: number[]) => void;
    const table = new Float32Array(this.memory.buffer, this.tableOffset, 65536);
    for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
    this.top = this.tableOffset + 65536 * 4;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** Copies q8_0 bytes in; returns their offset. Views into the memory stay valid once `seal` ran. */
  place(bytes: Uint8Array): number {
    const offset = (this.top + 15) & ~15;
    this.ensure(offset + bytes.byteLength);
    new Uint8Array(this.memory.buffer, offset, bytes.byteLength).set(bytes);
    this.top = offset + bytes.byteLength;
    return offset;
  }

  /** A view of placed bytes (valid until the memory grows, which `seal` prevents). */
  view(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, offset, length);
  }

  /** Reserves scratch for vectors of up to `maxColumns` inputs and `maxRows` outputs; no growth after. */
  seal(maxRows: number, maxColumns: number): void {
    this.scratchOffset = (this.top + 63) & ~63;
    this.ensure(this.scratchOffset + maxColumns * 2 + (maxColumns / 32) * 4 + maxRows * 4 + 256);
    const buffer = this.memory.buffer;
    this.words = new Int16Array(buffer);
    this.floats = new Float32Array(buffer);
  }

  private words = new Int16Array(0);
  private floats = new Float32Array(0);

  /** out[r] = sum_c W[r, c] x[c] for the q8_0 matrix placed at `offset` ([rows, cols]). */
  matvec(out: Float32Array, offset: number, x: Float32Array, rows: number, cols: number): void {
    const blocks = cols >> 5;
    const xqOffset = this.scratchOffset;
    const xsOffset = (xqOffset + cols * 2 + 15) & ~15;
    const outOffset = (xsOffset + blocks * 4 + 15) & ~15;
    if (outOffset + rows * 4 > this.floats.byteLength)
      throw new RangeError('Q8SimdStore: matvec before seal, or larger than sealed');
    const words = this.words;
    const floats = this.floats;
    const wordBase = xqOffset >> 1;
    const scaleBase = xsOffset >> 2;
    for (let b = 0; b < blocks; b++) {
      const base = b * 32;
      let max = 0;
      for (let i = 0; i < 32; i++) {
        const a = Math.abs(x[base + i]);
        if (a > max) max = a;
      }
      const scale = max / 32767;
      floats[scaleBase + b] = scale;
      const inverse = scale > 0 ? 1 / scale : 0;
      for (let i = 0; i < 32; i++) words[wordBase + base + i] = Math.round(x[base + i] * inverse);
    }
    const pairs = rows & ~1;
    const rowBytes = blocks * 34;
    if (pairs > 0)
      this.pairKernel(offset, xqOffset, xsOffset, outOffset, pairs, blocks, this.tableOffset, rowBytes);
    if (pairs < rows) {
      this.matvecKernel(
        offset + pairs * rowBytes,
        xqOffset,
        xsOffset,
        outOffset + pairs * 4,
        rows - pairs,
        blocks,
        this.tableOffset,
      );
    }
    out.set(floats.subarray(outOffset >> 2, (outOffset >> 2) + rows));
  }
}
