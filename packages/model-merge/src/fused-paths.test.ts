// The fused chunk paths (TensorView.readInto / accumulate: decode + subtract or decode + multiply-add
// in one loop into reused buffers) must give the same bits as the plain path (read a fresh f32 chunk,
// then subtract / add), for every method that uses them and every 16-bit input dtype.
import { encodeBf16, encodeF16, Tensor } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { defaultMergeMethods } from './registry';
import { float32Output, type TensorView, tensorView } from './tensor-view';

const shape = [37, 29];
const size = shape[0]! * shape[1]!;

function noise(seed: number, scale: number): Float32Array {
  let state = seed | 1;
  return Float32Array.from({ length: size }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296 - 0.5) * scale;
  });
}

function tensorOf(dtype: 'f32' | 'bf16' | 'f16', values: Float32Array): Tensor {
  if (dtype === 'f32') return Tensor.fromF32(values, shape);
  return Tensor.fromBytes(dtype, shape, dtype === 'bf16' ? encodeBf16(values) : encodeF16(values));
}

/** The same view without its fused methods: every chunk goes through `read`. */
function plain(view: TensorView): TensorView {
  const { readInto: _readInto, accumulate: _accumulate, ...rest } = view;
  return rest;
}

function run(method: string, views: TensorView[], base: TensorView | undefined, parameters: object) {
  const output = float32Output(shape);
  defaultMergeMethods.get(method).doMerge({
    tensorName: 'layers.0.mlp.weight',
    shape,
    ...(base ? { base } : {}),
    models: views,
    modelParameters: views.map((_, i) => ({ weight: 0.3 + 0.2 * i, density: 0.6 })),
    parameters: parameters as Record<string, unknown>,
    seed: 7,
    chunkElements: 100, // several rows per chunk, the last chunk short
    output,
    warnings: [],
  });
  return output.data;
}

describe('fused chunk paths', () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    for (const [method, withBase, parameters] of [
      ['linear', false, {}],
      ['task_arithmetic', true, {}],
      ['ties', true, {}],
      ['dare_ties', true, {}],
      ['della', true, {}],
      ['breadcrumbs_ties', true, {}],
    ] as const) {
      it(`${method} on ${dtype} inputs gives the same bits as the plain read path`, () => {
        const baseValues = noise(1, 0.04);
        const models = [2, 3, 4].map((seed) => {
          const delta = noise(seed, 0.004);
          const values = baseValues.map((v, i) => v + delta[i]!);
          values[0] = -0; // −0 in every model: accumulating into zeros gives +0, so must the fused path
          return tensorOf(dtype, values);
        });
        const base = withBase ? tensorView(tensorOf(dtype, baseValues)) : undefined;
        const fused = run(method, models.map(tensorView), base, parameters);
        const reference = run(
          method,
          models.map((m) => plain(tensorView(m))),
          base && plain(base),
          parameters,
        );
        expect(new Uint32Array(fused.buffer)).toEqual(new Uint32Array(reference.buffer));
        expect(fused.some((v) => v !== 0)).toBe(true);
      });
    }
  }
});
