// A projection weight as the engine keeps it: f32 rows or GGML q8_0 blocks (kept quantized), copied
// into one WebAssembly SIMD arena when available so tensor-core's kernels read them in place.
import {
  createSimdArena,
  DTypeError,
  matmulF32,
  matmulQ8_0,
  matvecF32,
  matvecQ8_0,
  type SimdArena,
  simdSupported,
  type Tensor,
} from '@meld/tensor-core';

export interface Linear {
  /** Canonical HF name of the weight, e.g. model.layers.0.self_attn.q_proj.weight. */
  readonly name: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly dtype: 'f32' | 'q8_0';
  /** f32: [outFeatures * inFeatures] floats; q8_0: GGML blocks. */
  readonly data: Float32Array | Uint8Array;
  readonly bias?: Float32Array;
  /** Set when the q8_0 blocks were copied into the SIMD arena (`data` is then that copy). */
  readonly q8?: { readonly arena: SimdArena };
}

/** Where weights are placed: one SIMD arena per model (2 GiB at most), or the JS heap. */
export class WeightStore {
  private arena: SimdArena | undefined;
  private arenaBytes = 0;
  private static readonly limit = 1.9 * 2 ** 30;

  constructor(useSimd = simdSupported()) {
    if (useSimd) this.arena = createSimdArena();
  }

  private fits(bytes: number): SimdArena | undefined {
    if (!this.arena || this.arenaBytes + bytes > WeightStore.limit) return undefined;
    this.arenaBytes += bytes;
    return this.arena;
  }

  /** Copies q8_0 blocks into the arena when there is room (and cols % 32 == 0). */
  placeQ8(bytes: Uint8Array, columns: number): { data: Uint8Array; q8?: Linear['q8'] } {
    const arena = columns % 32 === 0 ? this.fits(bytes.byteLength) : undefined;
    if (!arena) return { data: bytes };
    return { data: arena.copyBytes(bytes), q8: { arena } };
  }

  place(values: Float32Array): Float32Array {
    return this.fits(values.byteLength)?.copyF32(values) ?? values;
  }
}

/** Keeps f32 and q8_0 as they are; decodes every other dtype (f16, bf16, q4_0, ...) to f32. */
export function linearFromTensor(name: string, tensor: Tensor, store: WeightStore, bias?: Tensor): Linear {
  if (tensor.shape.length !== 2)
    throw new DTypeError(tensor.dtype, `${name}: a linear weight must be 2-D, got [${tensor.shape}]`);
  const [outFeatures, inFeatures] = tensor.shape as [number, number];
  const biasData = bias?.toFloat32();
  const extra = biasData ? { bias: biasData } : {};
  if (tensor.dtype === 'q8_0') {
    const placed = store.placeQ8(tensor.bytes(), inFeatures);
    return { name, outFeatures, inFeatures, dtype: 'q8_0', ...placed, ...extra };
  }
  return { name, outFeatures, inFeatures, dtype: 'f32', data: store.place(tensor.toFloat32()), ...extra };
}

/** out[rows, outFeatures] = x[rows, inFeatures] @ W^T (+ bias), through tensor-core's kernels. */
export function applyLinear(linear: Linear, out: Float32Array, x: Float32Array, rows: number): void {
  const { inFeatures, outFeatures } = linear;
  if (linear.dtype === 'f32') {
    const weight = linear.data as Float32Array;
    if (rows === 1) matvecF32(out, weight, x, outFeatures, inFeatures);
    else matmulF32(out, x.subarray(0, rows * inFeatures), weight, rows, outFeatures, inFeatures, true);
  } else {
    const bytes = linear.data as Uint8Array;
    if (rows === 1) matvecQ8_0(out, bytes, x, outFeatures, inFeatures);
    else matmulQ8_0(out, x, bytes, rows, outFeatures, inFeatures);
  }
  const bias = linear.bias;
  if (bias) {
    for (let t = 0; t < rows; t++) {
      const o = t * linear.outFeatures;
      for (let i = 0; i < linear.outFeatures; i++) out[o + i] += bias[i];
    }
  }
}
