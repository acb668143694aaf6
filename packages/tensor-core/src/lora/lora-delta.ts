// The LoRA weight delta, once for all of meld (runtime applies it, model-merge merges it, finetune
// writes it): ΔW = s · B @ A with B [out, r], A [r, in] and s = alpha / r, or alpha / sqrt(r) with
// rsLoRA (huggingface/peft tuners/lora/layer.py get_delta_weight). Embeddings store
// A [r, vocab], B [dim, r] and their delta is (B @ A)ᵀ; fan_in_fan_out (GPT-2 Conv1D) transposes too.
import { ShapeMismatchError, ValidationError } from '../errors';
import { Tensor } from '../tensor';
import type { LoraKind } from './peft-keys';

export interface LoraModuleWeights {
  /** Canonical module name, e.g. `model.layers.0.self_attn.q_proj` (its weight: `<module>.weight`). */
  readonly module: string;
  readonly kind: LoraKind;
  /** linear: [r, in]; embedding: [r, vocab]. */
  readonly a: Tensor;
  /** linear: [out, r]; embedding: [dim, r]. */
  readonly b: Tensor;
}

export interface LoraDeltaOptions {
  /** The scale s (alpha / r, alpha / sqrt(r), times any user multiplier). */
  readonly scale: number;
  /** PEFT's fan_in_fan_out: the base weight is stored [in, out]. */
  readonly fanInFanOut?: boolean;
}

/** Checks that A and B are matrices with a shared rank; returns [rank, rows of B, columns of A]. */
export function loraDimensions(weights: LoraModuleWeights): [rank: number, outer: number, inner: number] {
  const { a, b, module } = weights;
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[1]) {
    throw new ShapeMismatchError(
      `LoRA ${module}: B [out, r] @ A [r, in]`,
      [b.shape[0] ?? 0, a.shape[0] ?? 0],
      [...b.shape],
    );
  }
  return [a.shape[0]!, b.shape[0]!, a.shape[1]!];
}

/** The shape ΔW has (and the base weight must have). */
export function loraDeltaShape(weights: LoraModuleWeights, fanInFanOut = false): [number, number] {
  const [, outer, inner] = loraDimensions(weights);
  const transposed = weights.kind === 'embedding' || fanInFanOut;
  return transposed ? [inner, outer] : [outer, inner];
}

/** ΔW = scale · B @ A (transposed for embeddings and fan_in_fan_out), as an f32 tensor. */
export function loraDelta(weights: LoraModuleWeights, options: LoraDeltaOptions): Tensor {
  if (!Number.isFinite(options.scale))
    throw new ValidationError('scale', `must be finite, got ${options.scale}`);
  const [rank, outer, inner] = loraDimensions(weights);
  const a = weights.a.toFloat32();
  const b = weights.b.toFloat32();
  const product = new Float32Array(outer * inner);
  const accumulator = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    accumulator.fill(0);
    for (let k = 0; k < rank; k++) {
      const coefficient = b[o * rank + k]!;
      if (coefficient === 0) continue;
      const rowStart = k * inner;
      for (let i = 0; i < inner; i++) accumulator[i]! += coefficient * a[rowStart + i]!;
    }
    const base = o * inner;
    for (let i = 0; i < inner; i++) product[base + i] = options.scale * accumulator[i]!;
  }
  const transposed = weights.kind === 'embedding' || options.fanInFanOut === true;
  if (!transposed) return Tensor.fromF32(product, [outer, inner]);
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) out[i * outer + o] = product[o * inner + i]!;
  return Tensor.fromF32(out, [inner, outer]);
}

/** W + ΔW as a new f32 tensor (the base weight may be any dtype; it is dequantized). */
export function applyLoraDelta(
  weight: Tensor,
  weights: LoraModuleWeights,
  options: LoraDeltaOptions,
): Tensor {
  const shape = loraDeltaShape(weights, options.fanInFanOut);
  if (weight.shape.length !== 2 || weight.shape[0] !== shape[0] || weight.shape[1] !== shape[1]) {
    throw new ShapeMismatchError(`LoRA ${weights.module}: base weight`, shape, [...weight.shape]);
  }
  const delta = loraDelta(weights, options).toFloat32();
  const base = weight.toFloat32();
  const out = new Float32Array(delta.length);
  for (let i = 0; i < out.length; i++) out[i] = base[i]! + delta[i]!;
  return Tensor.fromF32(out, shape);
}
