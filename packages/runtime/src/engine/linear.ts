// A projection weight as the engine keeps it: f32 rows (copied into a WebAssembly SIMD arena when
// available, so matvec reads them in place), or GGML q8_0 blocks kept quantized.
import { createSimdArena, DTypeError, type SimdArena, simdSupported, type Tensor } from '@meld/tensor-core';
import { matmulF32, matmulQ8_0 } from './kernels';

export interface Linear {
  /** Canonical HF name of the weight, e.g. model.layers.0.self_attn.q_proj.weight. */
  readonly name: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly dtype: 'f32' | 'q8_0';
  /** f32: [outFeatures * inFeatures] floats; q8_0: GGML blocks. */
  readonly data: Float32Array | Uint8Array;
  readonly bias?: Float32Array;
}

/** Where f32 weights are placed: one arena per model (2 GiB at most), or the JS heap. */
export class WeightStore {
  private arena: SimdArena | undefined;
  private arenaBytes = 0;
  private static readonly limit = 1.9 * 2 ** 30;

  constructor(useSimd = simdSupported()) {
    if (useSimd) this.arena = createSimdArena();
  }

  place(values: Float32Array): Float32Array {
    if (!this.arena || this.arenaBytes + values.byteLength > WeightStore.limit) return values;
    this.arenaBytes += values.byteLength;
    return this.arena.copyF32(values);
  }
}

/** Keeps f32 and q8_0 as they are; decodes every other dtype (f16, bf16, q4_0, ...) to f32. */
export function linearFromTensor(name: string, tensor: Tensor, store: WeightStore, bias?: Tensor): Linear {
  if (tensor.shape.length !== 2)
    throw new DTypeError(tensor.dtype, `${name}: a linear weight must be 2-D, got [${tensor.shape}]`);
  const [outFeatures, inFeatures] = tensor.shape as [number, number];
  const biasData = bias?.toFloat32();
  const extra = biasData ? { bias: biasData } : {};
  if (tensor.dtype === 'q8_0')
    return { name, outFeatures, inFeatures, dtype: 'q8_0', data: tensor.bytes(), ...extra };
  return { name, outFeatures, inFeatures, dtype: 'f32', data: store.place(tensor.toFloat32()), ...extra };
}

/** out[rows, outFeatures] = x[rows, inFeatures] @ W^T (+ bias). */
export function applyLinear(
  linear: Linear,
  out: Float32Array,
  x: Float32Array,
  rows: number,
  scratch: (count: number) => Float32Array,
): void {
  if (linear.dtype === 'f32') {
    matmulF32(out, x, linear.data as Float32Array, rows, linear.inFeatures, linear.outFeatures);
  } else {
    matmulQ8_0(out, x, linear.data as Uint8Array, rows, linear.inFeatures, linear.outFeatures, () =>
      scratch(linear.outFeatures * linear.inFeatures),
    );
  }
  const bias = linear.bias;
  if (bias) {
    for (let t = 0; t < rows; t++) {
      const o = t * linear.outFeatures;
      for (let i = 0; i < linear.outFeatures; i++) out[o + i] += bias[i];
    }
  }
}
