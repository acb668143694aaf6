import { describe, expect, it } from 'vitest';
import { MeldError, ShapeMismatchError } from './errors';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half';
import { Tensor } from './tensor';

describe('Tensor', () => {
  it('makes zero-copy row views that share memory with the parent', () => {
    const t = Tensor.fromF32(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    const r = t.row(1);
    expect(r.shape).toEqual([2]);
    expect(Array.from(r.toFloat32())).toEqual([3, 4]);
    r.toFloat32()[0] = 30;
    expect(t.toFloat32()[2]).toBe(30);
  });

  it('rejects a shape that disagrees with the data, with a typed error', () => {
    expect(() => Tensor.fromF32(new Float32Array(5), [2, 3])).toThrow(ShapeMismatchError);
    try {
      Tensor.fromF32(new Float32Array(5), [2, 3]);
    } catch (error) {
      expect(MeldError.isInstance(error)).toBe(true);
    }
  });

  it('decodes f16 and bf16', () => {
    const values = [0, 1, -2.5, 65504, 1e-7, Number.POSITIVE_INFINITY];
    const f16 = new Uint8Array(values.length * 2);
    const view = new DataView(f16.buffer);
    for (const [i, v] of values.entries()) view.setUint16(2 * i, f32ToF16(v), true);
    const decoded = Tensor.fromBytes('f16', [values.length], f16).toFloat32();
    expect(Array.from(decoded)).toEqual(values.map((v) => f16ToF32(f32ToF16(v))));
    expect(decoded[3]).toBe(65504);
    expect(bf16ToF32(f32ToBf16(1.5))).toBe(1.5);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN)))).toBe(true);
  });
});
