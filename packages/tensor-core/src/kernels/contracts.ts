// Kernel contracts, written once: each kernel's name, its inputs and the zod schema of its attributes.
// Backends implement these (src/backends/<name>/); a kernel a backend leaves out runs on the js backend.
import { z } from 'zod';
import type { Tensor } from '../tensor';

export type TokenIds = ArrayLike<number>;

/** What each kernel takes. Shapes are row-major; "rows" means every axis but the last. */
export interface KernelInputs {
  /** a [..., m, k] x b [..., k, n] (or b [..., n, k] with transposeB); a 2-D b is shared by the batch. */
  matmul: { a: Tensor; b: Tensor };
  /** weight [rows, cols] (f32 or q8_0) x x [cols] -> [rows]. */
  matvec: { weight: Tensor; x: Tensor };
  /** b has a's shape, or a's trailing shape (broadcast over the leading axes). */
  add: { a: Tensor; b: Tensor };
  mul: { a: Tensor; b: Tensor };
  scale: { x: Tensor };
  /** Over the last axis; stable (subtracts the row maximum). */
  softmax: { x: Tensor };
  rmsnorm: { x: Tensor; weight: Tensor };
  layernorm: { x: Tensor; weight: Tensor; bias?: Tensor };
  /** x [tokens, heads, headDim] or [heads, headDim]; token t sits at startPosition + t. */
  rope: { x: Tensor };
  silu: { x: Tensor };
  gelu: { x: Tensor };
  /** table [vocab, dim] (any dtype) -> [ids.length, dim] f32. */
  embedding: { table: Tensor; ids: TokenIds };
  /** Per row of x: index of the largest value. */
  argmax: { x: Tensor };
  /** Per row of x: the k largest values, descending. */
  topk: { x: Tensor };
  /** Per row: cosine similarity of a's row and b's row. */
  cosineSimilarity: { a: Tensor; b: Tensor };
  /** Per row: sum, mean, max or min over the last axis. */
  reduce: { x: Tensor };
}

export interface KernelOutputs {
  matmul: Tensor;
  matvec: Tensor;
  add: Tensor;
  mul: Tensor;
  scale: Tensor;
  softmax: Tensor;
  rmsnorm: Tensor;
  layernorm: Tensor;
  rope: Tensor;
  silu: Tensor;
  gelu: Tensor;
  embedding: Tensor;
  argmax: Int32Array;
  topk: { values: Tensor; indices: Int32Array };
  cosineSimilarity: Tensor;
  reduce: Tensor;
}

const none = z.object({});
const epsilon = z.number().positive().default(1e-5);

/** The attribute schema of every kernel (defaults filled in by `parse`). */
export const kernelAttributeSchemas = {
  matmul: z.object({ transposeB: z.boolean().default(false) }),
  matvec: none,
  add: none,
  mul: none,
  scale: z.object({ factor: z.number() }),
  softmax: none,
  rmsnorm: z.object({ epsilon }),
  layernorm: z.object({ epsilon }),
  rope: z.object({
    startPosition: z.number().int().nonnegative().default(0),
    theta: z.number().positive().default(10000),
    layout: z.enum(['llama', 'neox']).default('llama'),
    /** Dimensions of each head that rotate (default: all). */
    rotaryDim: z.number().int().positive().optional(),
  }),
  silu: none,
  gelu: z.object({ approximate: z.enum(['tanh', 'none']).default('tanh') }),
  embedding: none,
  argmax: none,
  topk: z.object({ k: z.number().int().positive() }),
  cosineSimilarity: none,
  reduce: z.object({ operation: z.enum(['sum', 'mean', 'max', 'min']) }),
} as const;

export type KernelName = keyof KernelInputs;

/** Attributes after parsing (defaults applied). */
export type KernelAttributes<K extends KernelName> = z.output<(typeof kernelAttributeSchemas)[K]>;
/** Attributes as callers write them (defaulted fields optional). */
export type KernelAttributesInput<K extends KernelName> = z.input<(typeof kernelAttributeSchemas)[K]>;

export type KernelImplementation<K extends KernelName> = (
  inputs: KernelInputs[K],
  attributes: KernelAttributes<K>,
) => KernelOutputs[K] | Promise<KernelOutputs[K]>;

export type KernelImplementations = { [K in KernelName]: KernelImplementation<K> };

export interface KernelContract {
  name: KernelName;
  inputs: readonly string[];
  description: string;
}

/** Every kernel, once: name, input names, what it computes. Attributes: `kernelAttributeSchemas`. */
export const kernelContracts: { [K in KernelName]: KernelContract & { name: K } } = {
  matmul: { name: 'matmul', inputs: ['a', 'b'], description: 'batched a @ b, or a @ b^T with transposeB' },
  matvec: { name: 'matvec', inputs: ['weight', 'x'], description: 'weight @ x; weight f32 or q8_0' },
  add: { name: 'add', inputs: ['a', 'b'], description: 'a + b, b broadcast over leading axes' },
  mul: { name: 'mul', inputs: ['a', 'b'], description: 'a * b, b broadcast over leading axes' },
  scale: { name: 'scale', inputs: ['x'], description: 'x * factor' },
  softmax: { name: 'softmax', inputs: ['x'], description: 'stable softmax over the last axis' },
  rmsnorm: {
    name: 'rmsnorm',
    inputs: ['x', 'weight'],
    description: 'x / rms(x) * weight over the last axis',
  },
  layernorm: { name: 'layernorm', inputs: ['x', 'weight', 'bias'], description: 'layer normalization' },
  rope: {
    name: 'rope',
    inputs: ['x'],
    description: 'rotary embedding, llama (interleaved) or neox (halves)',
  },
  silu: { name: 'silu', inputs: ['x'], description: 'x * sigmoid(x)' },
  gelu: { name: 'gelu', inputs: ['x'], description: 'GELU, tanh approximation or exact' },
  embedding: { name: 'embedding', inputs: ['table', 'ids'], description: 'gather rows of table' },
  argmax: { name: 'argmax', inputs: ['x'], description: 'index of the maximum per row' },
  topk: { name: 'topk', inputs: ['x'], description: 'k largest per row, by selection' },
  cosineSimilarity: {
    name: 'cosineSimilarity',
    inputs: ['a', 'b'],
    description: 'row-wise cosine similarity',
  },
  reduce: { name: 'reduce', inputs: ['x'], description: 'sum / mean / max / min over the last axis' },
};

export const kernelNames = Object.keys(kernelContracts) as KernelName[];

/**
 * A backend (versioned contract). `kernels` holds what it implements natively; the rest run on js.
 * Buffers: inputs and outputs are ordinary Tensors (garbage collected); device mirrors are the backend's
 * business and never leak to callers.
 */
export interface BackendV1 {
  readonly specificationVersion: 'v1';
  readonly name: string;
  readonly kernels: Partial<KernelImplementations>;
  /** Human-readable facts (threads, adapter name) for benchmarks and logs. */
  readonly description?: string;
  /** Releases sessions, devices and workers. */
  dispose?(): void | Promise<void>;
}
