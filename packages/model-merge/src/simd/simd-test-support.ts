// Test support for the SIMD kernels: a seeded generator of awkward f32 / bf16 bit patterns, a bump
// allocator over a shared WebAssembly memory that places arrays at deliberately misaligned byte offsets,
// and a bit-for-bit comparison that lets two NaNs of different payloads match.
import type { WasmMemory } from '@meld/tensor-core';

/** mulberry32: a small seeded generator of uniform [0, 1) numbers. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** f32 bit patterns that stress the kernels: zeros, infinities, NaNs, subnormals, bf16 rounding ties. */
export const specialF32Bits = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xffc12345,
  0xff800001, 0x00000001, 0x807fffff, 0x00400000, 0x00018000, 0x80008000, 0x3f808000, 0x3f818000, 0x3f807fff,
  0x3f808001, 0x7f7fffff, 0xff7f8000, 0x7f7f8000, 0x3f800000, 0xbf800000, 0x3fc00000, 0xbfc00000, 0x7f7fffff,
  0x00008000, 0x477fe000,
];

/** bf16 words of the same kinds. */
export const specialBf16Words = [
  0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0xffbf, 0x0001, 0x807f, 0x3f80, 0xbf80, 0x7f7f,
  0x0080,
];

export function randomF32Bits(count: number, random: () => number): Uint32Array {
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const kind = random();
    if (kind < 0.25) bits[i] = specialF32Bits[Math.floor(random() * specialF32Bits.length)]!;
    else if (kind < 0.5) bits[i] = Math.floor(random() * 4294967296);
    else if (kind < 0.6)
      bits[i] = ((Math.floor(random() * 65536) << 16) | 0x8000) >>> 0; // exact bf16 tie
    else bits[i] = new Uint32Array(Float32Array.of((random() - 0.5) * 8).buffer)[0]!;
  }
  return bits;
}

/** Deltas of bf16 values (low 16 bits zero, a few hundred distinct), some f32 noise in the bucket of 2^-12. */
export function deltaBits(n: number, random: () => number): Uint32Array {
  const bits = new Uint32Array(n);
  const mixed = randomF32Bits(n, random);
  for (let i = 0; i < n; i++) {
    const kind = random();
    if (kind < 0.3)
      bits[i] = i > 0 && random() < 0.7 ? bits[i - 1]! : 0; // runs, zeros
    else if (kind < 0.8)
      bits[i] = ((random() < 0.5 ? 0x3980 : 0xb980) + Math.floor(random() * 6) - 3) << 16; // near ±2^-12
    else if (kind < 0.9) bits[i] = (0x3980 << 16) | Math.floor(random() * 65536);
    else bits[i] = mixed[i]!;
  }
  return bits;
}

export function randomBf16Words(count: number, random: () => number): Uint16Array {
  const words = new Uint16Array(count);
  for (let i = 0; i < count; i++)
    words[i] =
      random() < 0.2
        ? specialBf16Words[Math.floor(random() * specialBf16Words.length)]!
        : Math.floor(random() * 65536);
  return words;
}

export function floatsOf(bits: Uint32Array): Float32Array {
  return new Float32Array(bits.buffer, bits.byteOffset, bits.length);
}

export function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** The first few indices where two integer arrays differ. */
export function differences(actual: ArrayLike<number>, expected: ArrayLike<number>): string[] {
  if (actual.length !== expected.length) return [`length ${actual.length} ≠ ${expected.length}`];
  const found: string[] = [];
  for (let i = 0; i < actual.length && found.length < 5; i++)
    if (actual[i] !== expected[i]) found.push(`[${i}] ${actual[i]} ≠ ${expected[i]}`);
  return found;
}

/** The first few indices where the two arrays' bits differ (two NaNs match when `nanPayloads` is false). */
export function bitDifferences(actual: Float32Array, expected: Float32Array, nanPayloads = false): string[] {
  const a = bitsOf(actual);
  const e = bitsOf(expected);
  const differences: string[] = [];
  if (actual.length !== expected.length) return [`length ${actual.length} ≠ ${expected.length}`];
  for (let i = 0; i < a.length && differences.length < 5; i++) {
    if (a[i] === e[i]) continue;
    if (!nanPayloads && Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    differences.push(`[${i}] 0x${a[i]!.toString(16)} ≠ 0x${e[i]!.toString(16)}`);
  }
  return differences;
}

const GUARD = 0xa5;
const GUARD_BYTES = 32;

/** Places arrays in a shared memory at chosen byte offsets modulo 16, each followed by guard bytes. */
export class Arena {
  private cursor = 64;
  constructor(readonly memory: WasmMemory) {}

  get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  reset(): void {
    this.cursor = 64;
  }

  /** Copies `source` to a byte offset ≡ misalign (mod 16); returns the pointer. */
  place(source: ArrayBufferView, misalign: number): number {
    const pointer = Math.ceil(this.cursor / 16) * 16 + misalign;
    const length = source.byteLength;
    if (pointer + length + GUARD_BYTES + 16 > this.memory.buffer.byteLength)
      this.memory.grow(Math.ceil((pointer + length + GUARD_BYTES + 16) / 65536));
    const bytes = this.bytes;
    bytes.set(new Uint8Array(source.buffer, source.byteOffset, length), pointer);
    bytes.fill(GUARD, pointer + length, pointer + length + GUARD_BYTES);
    this.cursor = pointer + length + GUARD_BYTES;
    return pointer;
  }

  /** A copy of `length` bytes at pointer, as a fresh (aligned) array. */
  copy(pointer: number, length: number): Uint8Array {
    return this.bytes.slice(pointer, pointer + length);
  }

  floats(pointer: number, count: number): Float32Array {
    return new Float32Array(this.copy(pointer, count * 4).buffer);
  }

  words(pointer: number, count: number): Uint16Array {
    return new Uint16Array(this.copy(pointer, count * 2).buffer);
  }

  counters(pointer: number, count: number): Uint32Array {
    return new Uint32Array(this.copy(pointer, count * 4).buffer);
  }

  /** True when the guard bytes after an output of `length` bytes at pointer are untouched. */
  guardIntact(pointer: number, length: number): boolean {
    return this.bytes
      .subarray(pointer + length, pointer + length + GUARD_BYTES)
      .every((byte) => byte === GUARD);
  }
}
