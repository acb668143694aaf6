import type {} from '@meld/test-utils/setup';
import { describe, expect, it } from 'vitest';
import { DTypeError } from '../errors';
import { f16ToF32, f32ToF16 } from '../half';
import { dequantize } from './dequantize';
import { quantizeQ4_0 } from './q4-0';
import { quantizeQ8_0 } from './q8-0';

let seed = 7;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const f16 = (v: number) => f32ToF16(v);
const put16 = (bytes: Uint8Array, at: number, h: number) => {
  bytes[at] = h & 0xff;
  bytes[at + 1] = h >> 8;
};

describe('q8_0', () => {
  it('decodes a hand-built block: x = d * q', () => {
    const block = new Uint8Array(34);
    put16(block, 0, f16(0.25));
    for (let j = 0; j < 32; j++) block[2 + j] = (j * 9 - 128) & 0xff;
    const values = dequantize('q8_0', block, 32);
    expect(Array.from(values)).toEqual(
      Array.from({ length: 32 }, (_, j) => 0.25 * ((((j * 9 - 128) & 0xff) << 24) >> 24)),
    );
  });

  it('quantizes like quantize_row_q8_0_ref (d = amax/127, q = round(x/d)) and round-trips within d/2', () => {
    const values = Float32Array.from({ length: 256 }, () => (random() - 0.5) * 6);
    values.fill(0, 64, 96); // an all-zero block
    const bytes = quantizeQ8_0(values);
    expect(bytes.byteLength).toBe(8 * 34);
    const decoded = dequantize('q8_0', bytes, 256);
    for (let block = 0; block < 8; block++) {
      const slice = values.subarray(block * 32, block * 32 + 32);
      const amax = Math.max(...Array.from(slice, Math.abs));
      const d = amax / 127;
      const storedD = f16ToF32(bytes[block * 34]! | (bytes[block * 34 + 1]! << 8));
      expect(storedD).toBeCloseTo(d, 3);
      for (let j = 0; j < 32; j++) {
        const q = (bytes[block * 34 + 2 + j]! << 24) >> 24;
        expect(q).toBe(
          d === 0 ? 0 : Math.sign(slice[j]!) * Math.round(Math.abs(slice[j]! / Math.fround(d))) + 0,
        );
        expect(Math.abs(decoded[block * 32 + j]! - slice[j]!)).toBeLessThanOrEqual(d / 2 + amax * 1e-3);
      }
    }
  });
});

describe('q4_0', () => {
  it('decodes low nibbles to the first half and high nibbles to the second: x = d * (q - 8)', () => {
    const block = new Uint8Array(18);
    put16(block, 0, f16(-1.5));
    for (let j = 0; j < 16; j++) block[2 + j] = (j & 0xf) | ((15 - j) << 4);
    const expected = [
      ...Array.from({ length: 16 }, (_, j) => -1.5 * (j - 8)),
      ...Array.from({ length: 16 }, (_, j) => -1.5 * (15 - j - 8)),
    ];
    expect(Array.from(dequantize('q4_0', block, 32))).toEqual(expected);
  });

  it('quantize_row_q4_0_ref round-trips within one step', () => {
    const values = Float32Array.from({ length: 64 }, () => (random() - 0.5) * 2);
    const decoded = dequantize('q4_0', quantizeQ4_0(values), 64);
    for (let block = 0; block < 2; block++) {
      const slice = Array.from(values.subarray(block * 32, block * 32 + 32));
      const step = Math.max(...slice.map(Math.abs)) / 8;
      for (let j = 0; j < 32; j++)
        expect(Math.abs(decoded[block * 32 + j]! - slice[j]!)).toBeLessThanOrEqual(step * 1.01);
    }
  });
});

describe('q4_K', () => {
  // Packs like ggml's quantize_row_q4_K_ref, then checks x = d*sc*q - dmin*m per 32-value sub-block.
  it('decodes 6-bit scales/mins and nibbles packed as ggml packs them', () => {
    const sc = Array.from({ length: 8 }, (_, j) => [1, 63, 17, 40, 5, 62, 33, 48][j]!);
    const mins = Array.from({ length: 8 }, (_, j) => [0, 12, 63, 1, 50, 7, 31, 60][j]!);
    const levels = Array.from({ length: 256 }, () => Math.floor(random() * 16));
    const block = new Uint8Array(144);
    put16(block, 0, f16(0.0625));
    put16(block, 2, f16(0.125));
    const scales = block.subarray(4, 16);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        scales[j] = sc[j]!;
        scales[j + 4] = mins[j]!;
      } else {
        scales[j + 4] = (sc[j]! & 0xf) | ((mins[j]! & 0xf) << 4);
        scales[j - 4]! |= (sc[j]! >> 4) << 6;
        scales[j]! |= (mins[j]! >> 4) << 6;
      }
    }
    const qs = block.subarray(16);
    for (let j = 0, q = 0; j < 256; j += 64, q += 32) {
      for (let l = 0; l < 32; l++) qs[q + l] = levels[j + l]! | (levels[j + l + 32]! << 4);
    }
    const expected = levels.map((level, i) => 0.0625 * sc[i >> 5]! * level - 0.125 * mins[i >> 5]!);
    expect(dequantize('q4_k', block, 256)).toBeAllClose(Float32Array.from(expected), {
      rtol: 1e-6,
      atol: 1e-6,
    });
  });
});

describe('q6_K', () => {
  // Packs like ggml's quantize_row_q6_K_ref, then checks x = d*scale*(L - 32) per 16-value group.
  it('decodes 6-bit values split over ql/qh with int8 scales', () => {
    const levels = Array.from({ length: 256 }, () => Math.floor(random() * 64));
    const scales = Array.from({ length: 16 }, (_, i) => (i % 2 ? -1 : 1) * (3 + i * 7));
    const block = new Uint8Array(210);
    for (let j = 0, ql = 0, qh = 128; j < 256; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const q1 = levels[j + l]! & 0xf;
        const q2 = levels[j + l + 32]! & 0xf;
        const q3 = levels[j + l + 64]! & 0xf;
        const q4 = levels[j + l + 96]! & 0xf;
        block[ql + l] = q1 | (q3 << 4);
        block[ql + l + 32] = q2 | (q4 << 4);
        block[qh + l] =
          (levels[j + l]! >> 4) |
          ((levels[j + l + 32]! >> 4) << 2) |
          ((levels[j + l + 64]! >> 4) << 4) |
          ((levels[j + l + 96]! >> 4) << 6);
      }
    }
    for (let i = 0; i < 16; i++) block[192 + i] = scales[i]! & 0xff;
    put16(block, 208, f16(0.01));
    const d = f16ToF32(f16(0.01));
    const expected = levels.map((level, i) => d * scales[i >> 4]! * (level - 32));
    expect(dequantize('q6_k', block, 256)).toBeAllClose(Float32Array.from(expected), {
      rtol: 1e-6,
      atol: 1e-7,
    });
  });

  it('rejects partial blocks and short buffers with DTypeError', () => {
    expect(() => dequantize('q6_k', new Uint8Array(210), 128)).toThrow(DTypeError);
    expect(() => dequantize('q4_k', new Uint8Array(100), 256)).toThrow(DTypeError);
    expect(() => quantizeQ8_0(new Float32Array(31))).toThrow(DTypeError);
  });
});
