// The bulk conversions against the scalar ones (themselves checked against IEEE values below), over
// every 16-bit pattern and over f32 bit patterns that hit each rounding case.
import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  decodeBf16,
  decodeBf16Into,
  decodeF16,
  decodeF16Into,
  encodeBf16,
  encodeBf16Into,
  encodeF16,
  encodeF16Into,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
} from './half';

const allWords = Uint16Array.from({ length: 65536 }, (_, i) => i);

/** f32 bit patterns: every bf16/f16 rounding boundary (ties, just above/below), subnormals, inf, NaN. */
function interestingBits(): Uint32Array {
  const list: number[] = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffbfffff, 1];
  let state = 0x12345678;
  for (let i = 0; i < 200_000; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    list.push(state >>> 0);
  }
  for (let exponent = 0; exponent < 256; exponent++) {
    for (const low of [
      0, 1, 0x0fff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0x18000, 0x7fffff,
    ]) {
      list.push(((exponent << 23) | low) >>> 0, ((1 << 31) | (exponent << 23) | low) >>> 0);
    }
  }
  return Uint32Array.from(list);
}

describe('bulk half conversions', () => {
  it('decodeBf16Into is the 16-bit shift for every pattern (NaN payloads kept)', () => {
    const out = decodeBf16Into(allWords, new Float32Array(65536));
    const bits = new Uint32Array(out.buffer);
    // one expect per pattern would cost seconds on a busy machine: collect the mismatches instead
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) if (bits[h] !== (h << 16) >>> 0) wrong.push(h);
    expect(wrong).toEqual([]);
    expect(decodeBf16(new Uint8Array(allWords.buffer), 65536)).toEqual(out);
  });

  it('decodeF16Into matches f16ToF32 for every pattern', () => {
    const out = decodeF16Into(allWords, new Float32Array(65536));
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) if (!Object.is(out[h], Math.fround(f16ToF32(h)))) wrong.push(h);
    expect(wrong).toEqual([]);
    expect(out[0x3c00]).toBe(1);
    expect(out[0x0001]).toBe(2 ** -24);
    expect(out[0xfbff]).toBe(-65504);
    expect(decodeF16(new Uint8Array(allWords.buffer), 65536)).toEqual(out);
  });

  it('encodeBf16Into matches f32ToBf16 (round to nearest even, quiet NaN)', () => {
    const bits = interestingBits();
    const values = new Float32Array(bits.buffer);
    const words = encodeBf16Into(values, new Uint16Array(values.length));
    for (let i = 0; i < values.length; i++) {
      if (words[i] !== f32ToBf16(values[i]!))
        expect([bits[i], words[i]]).toEqual([bits[i], f32ToBf16(values[i]!)]);
    }
    // ties: 1 + 2^-8 rounds down to 1 (even), 1 + 3·2^-8 rounds up
    expect(encodeBf16Into(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8), new Uint16Array(2))).toEqual(
      Uint16Array.of(0x3f80, 0x3f82),
    );
    expect(
      encodeBf16Into(new Float32Array(new Uint32Array([0x7f800001]).buffer), new Uint16Array(1))[0],
    ).toBe(0x7fc0);
    expect(bf16ToF32(encodeBf16Into(Float32Array.of(3.4e38), new Uint16Array(1))[0]!)).toBe(
      Number.POSITIVE_INFINITY,
    );
    const bytes = encodeBf16(values);
    expect(new Uint16Array(bytes.buffer)).toEqual(words);
  });

  it('encodeF16Into matches f32ToF16 (subnormals, overflow, ties, NaN)', () => {
    const bits = interestingBits();
    const values = new Float32Array(bits.buffer);
    const words = encodeF16Into(values, new Uint16Array(values.length));
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (words[i] !== f32ToF16(values[i]!)) mismatches++;
    expect(mismatches).toBe(0);
    // independent values: 65504 is the largest f16, 65520 rounds to inf, 2^-25 ties to 0, 3·2^-25 to 2^-23
    expect(
      encodeF16Into(
        Float32Array.of(65504, 65520, 2 ** -25, 3 * 2 ** -25, -0, 1 + 2 ** -11),
        new Uint16Array(6),
      ),
    ).toEqual(Uint16Array.of(0x7bff, 0x7c00, 0x0000, 0x0002, 0x8000, 0x3c00));
    expect(new Uint16Array(encodeF16(values).buffer)).toEqual(words);
  });

  it('the byte-array forms accept unaligned buffers and plain arrays', () => {
    const backing = new Uint8Array(9);
    const odd = backing.subarray(1);
    encodeBf16([1, -2, 0.5, 384], odd);
    expect(Array.from(decodeBf16(odd, 4))).toEqual([1, -2, 0.5, 384]);
    encodeF16([1, -2, 0.5, 65504], odd);
    expect(Array.from(decodeF16(odd, 4))).toEqual([1, -2, 0.5, 65504]);
  });
});
