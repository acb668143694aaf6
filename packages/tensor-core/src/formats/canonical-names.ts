// Canonical tensor names: every loader maps weights to Hugging Face Llama names and layout, so
// adapters, merge filters and target modules mean one thing whatever file a model came from.
//
// GGUF (llama.cpp) names -> HF names, and llama.cpp's Q/K row permutation. llama.cpp (like
// llama2.c and Meta's checkpoints) rotates interleaved pairs (2i, 2i+1); HF rotates halves
// (i, i + headDim/2). convert_hf_to_gguf.py therefore stores q/k as
//   permute(w, n_head) = w.reshape(n_head, 2, dim/n_head/2, *).swapaxes(1, 2).reshape(w.shape)
// (for k with n_head = n_head_kv). `unpermuteQK` is its exact inverse. Rows are moved whole, so
// both work on any dtype, block-quantized ones included.
import { ShapeMismatchError, ValidationError } from '../errors';
import { Tensor } from '../tensor';
import type { GgufFile, GgufTensorInfo } from './gguf-reader';

const topLevel: Readonly<Record<string, string>> = {
  token_embd: 'model.embed_tokens',
  output_norm: 'model.norm',
  output: 'lm_head',
};

const perLayer: Readonly<Record<string, string>> = {
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
};

const topLevelInverse = Object.fromEntries(Object.entries(topLevel).map(([k, v]) => [v, k]));
const perLayerInverse = Object.fromEntries(Object.entries(perLayer).map(([k, v]) => [v, k]));

/** `blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight`; undefined when unknown. */
export function ggufToCanonicalName(name: string): string | undefined {
  const layer = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (layer) {
    const module = perLayer[layer[2]!];
    return module ? `model.layers.${layer[1]}.${module}.${layer[3]}` : undefined;
  }
  const top = /^([a-z_]+)\.(weight|bias)$/.exec(name);
  if (top && Object.hasOwn(topLevel, top[1]!)) return `${topLevel[top[1]!]}.${top[2]}`;
  return undefined;
}

/** `model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight`; undefined when unknown. */
export function canonicalToGgufName(name: string): string | undefined {
  const layer = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (layer) {
    const short = perLayerInverse[layer[2]!];
    return short ? `blk.${layer[1]}.${short}.${layer[3]}` : undefined;
  }
  const top = /^(.+)\.(weight|bias)$/.exec(name);
  if (top && Object.hasOwn(topLevelInverse, top[1]!)) return `${topLevelInverse[top[1]!]}.${top[2]}`;
  return undefined;
}

/** GGUF architectures whose q/k weights carry llama.cpp's RoPE permutation. */
export const ggufPermutedArchitectures: readonly string[] = ['llama', 'mistral', 'granite', 'deci'];

function moveRows(tensor: Tensor, heads: number, target: (row: number) => number, what: string): Tensor {
  const rows = tensor.shape[0] ?? 0;
  if (!Number.isInteger(heads) || heads <= 0)
    throw new ValidationError('heads', `must be a positive integer, got ${heads}`);
  if (tensor.shape.length < 1 || rows % (2 * heads) !== 0) {
    throw new ShapeMismatchError(
      `${what}: rows must split into ${heads} heads of even size`,
      [heads * 2],
      [...tensor.shape],
    );
  }
  const bytes = tensor.bytes();
  const rowBytes = rows === 0 ? 0 : bytes.byteLength / rows;
  const out = new Uint8Array(bytes.byteLength);
  for (let row = 0; row < rows; row++) {
    out.set(bytes.subarray(row * rowBytes, (row + 1) * rowBytes), target(row) * rowBytes);
  }
  return Tensor.fromBytes(tensor.dtype, tensor.shape, out);
}

/** llama.cpp's permute (HF layout -> GGUF layout): HF row (h, s·half + i) goes to row (h, 2i + s). */
export function permuteQK(tensor: Tensor, heads: number): Tensor {
  const headDim = (tensor.shape[0] ?? 0) / heads;
  const half = headDim / 2;
  return moveRows(
    tensor,
    heads,
    (row) => {
      const h = Math.floor(row / headDim);
      const j = row % headDim;
      const s = j < half ? 0 : 1;
      const i = j - s * half;
      return h * headDim + 2 * i + s;
    },
    'permuteQK',
  );
}

/** Inverse of permuteQK (GGUF layout -> HF layout): GGUF row (h, 2i + s) goes to row (h, s·half + i). */
export function unpermuteQK(tensor: Tensor, heads: number): Tensor {
  const headDim = (tensor.shape[0] ?? 0) / heads;
  const half = headDim / 2;
  return moveRows(
    tensor,
    heads,
    (row) => {
      const h = Math.floor(row / headDim);
      const j = row % headDim;
      return h * headDim + (j % 2) * half + Math.floor(j / 2);
    },
    'unpermuteQK',
  );
}

export interface QKPermutation {
  /** llama.attention.head_count */
  readonly heads: number;
  /** llama.attention.head_count_kv (defaults to heads) */
  readonly kvHeads?: number;
}

/** The head count q (heads) or k (kvHeads) rows are grouped by; undefined for other tensors. */
function permutationHeads(canonicalName: string, options: QKPermutation): number | undefined {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(canonicalName)) return options.heads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(canonicalName)) return options.kvHeads ?? options.heads;
  return undefined;
}

/** A GGUF tensor in HF layout (q/k un-permuted when `permutation` is given). */
export function ggufTensorToCanonical(
  canonicalName: string,
  tensor: Tensor,
  permutation?: QKPermutation,
): Tensor {
  const heads = permutation ? permutationHeads(canonicalName, permutation) : undefined;
  return heads === undefined ? tensor : unpermuteQK(tensor, heads);
}

/** An HF-layout tensor in GGUF layout (q/k permuted when `permutation` is given). */
export function canonicalTensorToGguf(
  canonicalName: string,
  tensor: Tensor,
  permutation?: QKPermutation,
): Tensor {
  const heads = permutation ? permutationHeads(canonicalName, permutation) : undefined;
  return heads === undefined ? tensor : permuteQK(tensor, heads);
}

/** The q/k permutation a GGUF file's architecture implies (undefined: none). */
export function ggufQKPermutation(file: GgufFile): QKPermutation | undefined {
  const architecture = file.get('general.architecture');
  if (typeof architecture !== 'string' || !ggufPermutedArchitectures.includes(architecture)) return undefined;
  const heads = file.getNumber(`${architecture}.attention.head_count`);
  const kvHeads = file.getNumber(`${architecture}.attention.head_count_kv`, heads);
  return { heads, kvHeads };
}

export interface CanonicalTensorInfo {
  /** HF name, or the GGUF name when no HF name is known. */
  readonly name: string;
  readonly gguf: GgufTensorInfo;
}

/** The file's tensors under canonical names. */
export function ggufCanonicalTensors(file: GgufFile): CanonicalTensorInfo[] {
  return file.tensors.map((gguf) => ({ name: ggufToCanonicalName(gguf.name) ?? gguf.name, gguf }));
}

/** Reads a GGUF tensor by canonical (or GGUF) name, in HF layout and the stored dtype. */
export function readGgufCanonicalTensor(file: GgufFile, name: string): Tensor {
  const ggufName = file.has(name) ? name : canonicalToGgufName(name);
  if (ggufName === undefined || !file.has(ggufName)) return file.readTensor(name); // throws FormatError naming it
  return ggufTensorToCanonical(
    ggufToCanonicalName(ggufName) ?? ggufName,
    file.readTensor(ggufName),
    ggufQKPermutation(file),
  );
}
