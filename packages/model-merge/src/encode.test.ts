import { decodeBf16, encodeBf16, encodeBf16Into, Tensor } from '@meld/tensor-core';
import { expect, it } from 'vitest';
import { seededData } from './methods/reference.test-helpers';
import { tensorView } from './tensor-view';

it('bulk bf16 encode and decode agree with tensor-core’s codecs, rounding, NaN and infinities included', () => {
  const values = new Float32Array([
    ...seededData(5, 1000, 3),
    0,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    3.4e38,
    1e-40,
    1.00390625, // exactly halfway between two bf16 values: ties to even
    1.01171875,
  ]);
  const words = new Uint16Array(values.length);
  encodeBf16Into(values, words);
  const reference = encodeBf16(values);
  expect(new Uint8Array(words.buffer)).toEqual(reference);
  const view = tensorView(Tensor.fromBytes('bf16', [values.length], reference));
  const decoded = view.read(0, 1);
  expect(Array.from(decoded)).toEqual(Array.from(decodeBf16(reference, values.length)));
});
