// llama2.c checkpoints (karpathy/llama2.c `run.c` format, version 0): a 7 x int32 header, then f32
// tensors in a fixed order. The reader maps every tensor to its Hugging Face Llama name and layout:
// llama2.c keeps wq/wk rows in the interleaved RoPE convention (pairs 2i, 2i+1), HF keeps them in
// the rotate_half convention (pairs i, i + headDim/2), so wq/wk rows are permuted exactly like
// transformers' convert_llama_weights_to_hf `permute`, inverted.
import { FormatError } from '../errors';
import { Tensor } from '../tensor';

export interface Llama2cHeader {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocabSize: number;
  /** The trained context length. */
  readonly seqLen: number;
  /** True when the classifier shares the token embedding (positive vocab size in the header). */
  readonly sharedClassifier: boolean;
}

export interface Llama2cCheckpoint {
  readonly header: Llama2cHeader;
  /** Hugging Face Llama names (model.layers.N.self_attn.q_proj.weight, ...) in HF layout, all f32. */
  readonly tensors: Map<string, Tensor>;
}

const headerBytes = 28;

/**
 * Permutes the rows of a [heads * headDim, cols] projection from llama2.c's interleaved RoPE pairs
 * to HF's half-split pairs: HF row (h, j) = llama2.c row (h, 2j) for j < headDim/2, (h, 2(j-headDim/2)+1) after.
 */
export function interleavedToHalfRows(
  source: Float32Array,
  heads: number,
  headDim: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(source.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < headDim; j++) {
      const from = j < half ? 2 * j : 2 * (j - half) + 1;
      const sourceRow = (h * headDim + from) * cols;
      out.set(source.subarray(sourceRow, sourceRow + cols), (h * headDim + j) * cols);
    }
  }
  return out;
}

/** Inverse of `interleavedToHalfRows` (HF layout back to llama2.c's interleaved layout). */
export function halfToInterleavedRows(
  source: Float32Array,
  heads: number,
  headDim: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(source.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < headDim; j++) {
      const to = j < half ? 2 * j : 2 * (j - half) + 1;
      const sourceRow = (h * headDim + j) * cols;
      out.set(source.subarray(sourceRow, sourceRow + cols), (h * headDim + to) * cols);
    }
  }
  return out;
}

/** Reads a llama2.c checkpoint held in memory. `file` names it in errors. */
export function readLlama2c(bytes: Uint8Array, file = 'llama2.c checkpoint'): Llama2cCheckpoint {
  if (bytes.byteLength < headerBytes)
    throw new FormatError(
      file,
      'header',
      `file has ${bytes.byteLength} bytes, fewer than the 28-byte header`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, layers, heads, kvHeadsRaw, vocabRaw, seqLen] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  fields.forEach((value, i) => {
    if (i !== 5 && !(value > 0))
      throw new FormatError(file, names[i] ?? 'header', `must be positive, got ${value}`);
  });
  if (vocabRaw === 0) throw new FormatError(file, 'vocab_size', 'must not be 0');
  const kvHeads = kvHeadsRaw;
  const vocabSize = Math.abs(vocabRaw);
  const sharedClassifier = vocabRaw > 0;
  if (dim % heads !== 0)
    throw new FormatError(file, 'n_heads', `dim ${dim} is not divisible by n_heads ${heads}`);
  if (heads % kvHeads !== 0)
    throw new FormatError(file, 'n_kv_heads', `n_heads ${heads} is not divisible by n_kv_heads ${kvHeads}`);
  const headDim = dim / heads;
  if (headDim % 2 !== 0) throw new FormatError(file, 'n_heads', `head size ${headDim} is odd`);
  const kvDim = kvHeads * headDim;

  const floatCount = (n: number) => n;
  const sizes = {
    embed: vocabSize * dim,
    norm: layers * dim,
    wq: layers * dim * dim,
    wk: layers * dim * kvDim,
    wv: layers * dim * kvDim,
    wo: layers * dim * dim,
    w1: layers * hiddenDim * dim,
    w2: layers * dim * hiddenDim,
    w3: layers * hiddenDim * dim,
    freq: seqLen * (headDim / 2),
  };
  const total =
    sizes.embed +
    2 * sizes.norm +
    sizes.wq +
    sizes.wk +
    sizes.wv +
    sizes.wo +
    sizes.w1 +
    sizes.w2 +
    sizes.w3 +
    dim +
    2 * sizes.freq +
    (sharedClassifier ? 0 : sizes.embed);
  const expectedBytes = headerBytes + floatCount(total) * 4;
  if (bytes.byteLength !== expectedBytes) {
    throw new FormatError(
      file,
      'size',
      `header implies ${expectedBytes} bytes, file has ${bytes.byteLength}`,
    );
  }
  const aligned = (bytes.byteOffset + headerBytes) % 4 === 0;
  const floats = aligned
    ? new Float32Array(bytes.buffer, bytes.byteOffset + headerBytes, total)
    : new Float32Array(bytes.slice(headerBytes).buffer);
  let offset = 0;
  const take = (count: number) => {
    const out = floats.subarray(offset, offset + count);
    offset += count;
    return out;
  };
  const tensors = new Map<string, Tensor>();
  const perLayer = (
    all: Float32Array,
    shape: number[],
    name: (layer: number) => string,
    transform?: (slice: Float32Array) => Float32Array,
  ) => {
    const per = all.length / layers;
    for (let l = 0; l < layers; l++) {
      const slice = all.subarray(l * per, (l + 1) * per);
      tensors.set(name(l), Tensor.fromF32(transform ? transform(slice) : slice, shape));
    }
  };
  const embed = take(sizes.embed);
  tensors.set('model.embed_tokens.weight', Tensor.fromF32(embed, [vocabSize, dim]));
  perLayer(take(sizes.norm), [dim], (l) => `model.layers.${l}.input_layernorm.weight`);
  perLayer(
    take(sizes.wq),
    [dim, dim],
    (l) => `model.layers.${l}.self_attn.q_proj.weight`,
    (s) => interleavedToHalfRows(s, heads, headDim, dim),
  );
  perLayer(
    take(sizes.wk),
    [kvDim, dim],
    (l) => `model.layers.${l}.self_attn.k_proj.weight`,
    (s) => interleavedToHalfRows(s, kvHeads, headDim, dim),
  );
  perLayer(take(sizes.wv), [kvDim, dim], (l) => `model.layers.${l}.self_attn.v_proj.weight`);
  perLayer(take(sizes.wo), [dim, dim], (l) => `model.layers.${l}.self_attn.o_proj.weight`);
  perLayer(take(sizes.norm), [dim], (l) => `model.layers.${l}.post_attention_layernorm.weight`);
  perLayer(take(sizes.w1), [hiddenDim, dim], (l) => `model.layers.${l}.mlp.gate_proj.weight`);
  perLayer(take(sizes.w2), [dim, hiddenDim], (l) => `model.layers.${l}.mlp.down_proj.weight`);
  perLayer(take(sizes.w3), [hiddenDim, dim], (l) => `model.layers.${l}.mlp.up_proj.weight`);
  tensors.set('model.norm.weight', Tensor.fromF32(take(dim), [dim]));
  take(2 * sizes.freq); // freq_cis_real / freq_cis_imag: unused (RoPE is recomputed)
  tensors.set(
    'lm_head.weight',
    sharedClassifier
      ? Tensor.fromF32(embed, [vocabSize, dim])
      : Tensor.fromF32(take(sizes.embed), [vocabSize, dim]),
  );
  return {
    header: { dim, hiddenDim, layers, heads, kvHeads, vocabSize, seqLen, sharedClassifier },
    tensors,
  };
}
