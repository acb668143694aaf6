// A projection weight as the engine keeps it: f32 rows (copied into a WebAssembly SIMD arena when
// available, so matvec reads them in place), or GGML q8_0 blocks kept quantized.
import { createSimdArena, DTypeError, type SimdArena, simdSupported, type Tensor } from '@meld/tensor-core';
import { matmulF32, matmulQ8_0 } from './kernels';
import { Q8SimdStore, q8SimdSupported } from './q8-simd';

export interface Linear {
  /** Canonical HF name of the weight, e.g. model.layers.0.self_attn.q_proj.weight. */
  readonly name: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly dtype: 'f32' | 'q8_0';
  /** f32: [outFeatures * inFeatures] floats; q8_0: GGML blocks. */
  readonly data: Float32Array | Uint8Array;
  readonly bias?: Float32Array;
  /** q8_0 weights placed in the SIMD kernel's memory (`data` is then a view of them). */
  readonly q8?: { readonly store: Q8SimdStore; readonly offset: number };
}

/** Where f32 weights are placed: one arena per model (2 GiB at most), or the JS heap. */
export class WeightStore {
  private arena: SimdArena | undefined;
  private arenaBytes = 0;
  private q8Store: Q8SimdStore | undefined;
  private maxRows = 0;
  private maxColumns = 0;
  private static readonly limit = 1.9 * 2 ** 30;

  constructor(useSimd = simdSupported()) {
    if (useSimd) this.arena = createSimdArena();
    if (useSimd && q8SimdSupported()) this.q8Store = new Q8SimdStore();
  }

  /** Copies q8_0 blocks into the SIMD kernel's memory when available. */
  placeQ8(bytes: Uint8Array, rows: number, columns: number): { data: Uint8Array; q8?: Linear['q8'] } {
    const store = this.q8Store;
    if (!store || columns % 32 !== 0) return { data: bytes };
    const offset = store.place(bytes);
    this.maxRows = Math.max(this.maxRows, rows);
    this.maxColumns = Math.max(this.maxColumns, columns);
    // `data` stays the loaded bytes until `seal` (the memory may still grow); see `sealed`.
    return { data: bytes, q8: { store, offset } };
  }

  /** Call once every weight is placed: reserves the kernel's scratch so its memory never grows again. */
  seal(): void {
    this.q8Store?.seal(this.maxRows, this.maxColumns);
  }

  /** After `seal`: the linear with `data` viewing the placed copy, so the loaded bytes can be collected. */
  sealed(linear: Linear): Linear {
    if (!linear.q8) return linear;
    return { ...linear, data: linear.q8.store.view(linear.q8.offset, linear.data.byteLength) };
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
  if (tensor.dtype === 'q8_0') {
    const placed = store.placeQ8(tensor.bytes(), outFeatures, inFeatures);
    return { name, outFeatures, inFeatures, dtype: 'q8_0', ...placed, ...extra };
  }
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
  } else if (rows === 1 && linear.q8) {
    linear.q8.store.matvec(out, linear.q8.offset, x, linear.outFeatures, linear.inFeatures);
  } else {
    matmulQ8_0(out, x, linear.data as Uint8Array, rows, linear.inFeatures, linear.outFeatures, scratch);
  }
  const bias = linear.bias;
  if (bias) {
    for (let t = 0; t < rows; t++) {
      const o = t * linear.outFeatures;
      for (let i = 0; i < linear.outFeatures; i++) out[o + i] += bias[i];
    }
  }
}
