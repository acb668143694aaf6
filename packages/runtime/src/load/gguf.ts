// GGUF files (llama.cpp): metadata -> ModelConfig, the embedded SentencePiece vocabulary, and the
// weights renamed to Hugging Face names. llama.cpp stores Llama q/k rows in the interleaved RoPE
// order (its convert script permutes them); they are permuted back to HF's half-split order here,
// row by row on the raw bytes, so quantized tensors stay quantized.
import { FormatError, type GgufFile, openGguf, Tensor } from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { Model } from '../model';
import { SentencePieceBpeTokenizer } from '../tokenizer/sentencepiece-bpe';

const layerNames: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

/** HF name of a GGUF tensor name, or undefined for tensors the runtime does not use (e.g. rope_freqs). */
export function hfNameForGguf(name: string): string | undefined {
  if (name === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (name === 'output_norm.weight') return 'model.norm.weight';
  if (name === 'output.weight') return 'lm_head.weight';
  const match = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (!match) return undefined;
  const mapped = layerNames[match[2]!];
  return mapped ? `model.layers.${match[1]}.${mapped}.${match[3]}` : undefined;
}

/** GGUF name of an HF tensor name (inverse of hfNameForGguf). */
export function ggufNameForHf(name: string): string | undefined {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (name === 'model.norm.weight') return 'output_norm.weight';
  if (name === 'lm_head.weight') return 'output.weight';
  const match = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!match) return undefined;
  const entry = Object.entries(layerNames).find(([, hf]) => hf === match[2]);
  return entry ? `blk.${match[1]}.${entry[0]}.${match[3]}` : undefined;
}

/**
 * Permutes the rows of a [heads * headDim, ...] tensor between RoPE layouts on raw bytes (any dtype).
 * toHalf: interleaved (llama.cpp) -> half-split (HF); otherwise the inverse.
 */
export function permuteRopeRows(tensor: Tensor, heads: number, toHalf: boolean): Tensor {
  const rows = tensor.shape[0]!;
  const headDim = rows / heads;
  const half = headDim / 2;
  const bytes = tensor.bytes();
  const rowBytes = bytes.byteLength / rows;
  const out = new Uint8Array(bytes.byteLength);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < headDim; j++) {
      const interleaved = j < half ? 2 * j : 2 * (j - half) + 1;
      const [from, to] = toHalf ? [interleaved, j] : [j, interleaved];
      const source = (h * headDim + from) * rowBytes;
      out.set(bytes.subarray(source, source + rowBytes), (h * headDim + to) * rowBytes);
    }
  }
  return Tensor.fromBytes(tensor.dtype, tensor.shape, out);
}

function numberArray(file: GgufFile, key: string): number[] | undefined {
  const value = file.get(key);
  return Array.isArray(value) ? value.map(Number) : undefined;
}

export function ggufTokenizer(file: GgufFile): SentencePieceBpeTokenizer {
  const model = file.getString('tokenizer.ggml.model', 'llama');
  if (model !== 'llama') {
    throw new FormatError(
      file.path,
      'tokenizer.ggml.model',
      `'${model}' vocabularies are not supported here (SentencePiece 'llama' is); pass a tokenizer.json`,
    );
  }
  const tokens = file.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new FormatError(file.path, 'tokenizer.ggml.tokens', 'missing');
  const encoder = new TextEncoder();
  const pieces = tokens.map((token) => encoder.encode(String(token).replaceAll('\u2581', ' ')));
  const scores = Float32Array.from(numberArray(file, 'tokenizer.ggml.scores') ?? pieces.map(() => 0));
  const types = numberArray(file, 'tokenizer.ggml.token_type') ?? [];
  const controlTokens = new Set<number>();
  types.forEach((type, id) => {
    if (type === 3) controlTokens.add(id);
  });
  const optionalId = (key: string) => {
    const value = file.get(key);
    return typeof value === 'number' && value >= 0 && value < pieces.length ? value : undefined;
  };
  const bos = optionalId('tokenizer.ggml.bos_token_id');
  const eos = optionalId('tokenizer.ggml.eos_token_id');
  const unk = optionalId('tokenizer.ggml.unknown_token_id');
  const addBos = file.get('tokenizer.ggml.add_bos_token');
  const addPrefix = file.get('tokenizer.ggml.add_space_prefix');
  return new SentencePieceBpeTokenizer({
    pieces,
    scores,
    controlTokens,
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
    ...(eos !== undefined ? { eosTokenId: eos } : {}),
    ...(unk !== undefined ? { unkTokenId: unk } : {}),
    addBos: typeof addBos === 'boolean' ? addBos : true,
    addDummyPrefix: typeof addPrefix === 'boolean' ? addPrefix : true,
  });
}

export function ggufConfig(file: GgufFile, vocabSize: number): ModelConfig {
  const arch = file.getString('general.architecture');
  if (arch !== 'llama' && arch !== 'qwen2') {
    throw new FormatError(
      file.path,
      'general.architecture',
      `'${arch}' is not supported (llama and qwen2 are)`,
    );
  }
  const key = (name: string) => `${arch}.${name}`;
  const hiddenSize = file.getNumber(key('embedding_length'));
  const numHeads = file.getNumber(key('attention.head_count'));
  const headDim = file.getNumber(key('attention.key_length'), hiddenSize / numHeads);
  const scalingType = file.getString(key('rope.scaling.type'), 'none');
  const factor = file.getNumber(key('rope.scaling.factor'), 1);
  const bos = file.get('tokenizer.ggml.bos_token_id');
  const eos = file.get('tokenizer.ggml.eos_token_id');
  return {
    architecture: arch === 'qwen2' ? 'qwen2' : 'llama',
    hiddenSize,
    intermediateSize: file.getNumber(key('feed_forward_length')),
    numLayers: file.getNumber(key('block_count')),
    numHeads,
    numKVHeads: file.getNumber(key('attention.head_count_kv'), numHeads),
    headDim,
    vocabSize,
    contextLength: file.getNumber(key('context_length'), 2048),
    rmsNormEps: file.getNumber(key('attention.layer_norm_rms_epsilon'), 1e-5),
    ropeTheta: file.getNumber(key('rope.freq_base'), 10000),
    ...(scalingType === 'linear' && factor !== 1 ? { ropeScaling: { type: 'linear' as const, factor } } : {}),
    tieWordEmbeddings: !file.has('output.weight'),
    attentionBias: arch === 'qwen2' || file.has('blk.0.attn_q.bias'),
    ...(typeof bos === 'number' ? { bosTokenId: bos } : {}),
    eosTokenIds: typeof eos === 'number' ? [eos] : [],
    // A generated BOS starts a new document in SentencePiece Llama vocabularies (llama2.c stops there).
    stopAtBos: arch === 'llama' && file.getString('tokenizer.ggml.model', 'llama') === 'llama',
  };
}

export async function loadGguf(path: string, options: { contextLength?: number } = {}): Promise<Model> {
  const file = openGguf(path);
  try {
    const tokenizer = ggufTokenizer(file);
    const config = ggufConfig(file, tokenizer.vocabSize);
    if (options.contextLength) config.contextLength = options.contextLength;
    const warnings: string[] = [];
    const llama = config.architecture === 'llama';
    const ggufNames = new Map<string, string>();
    for (const name of file.names) {
      const hfName = hfNameForGguf(name);
      if (hfName) ggufNames.set(hfName, name);
      else warnings.push(`${name}: not used`);
    }
    if (config.tieWordEmbeddings && ggufNames.has('model.embed_tokens.weight')) {
      ggufNames.set('lm_head.weight', ggufNames.get('model.embed_tokens.weight') as string);
    }
    // Read lazily, tensor by tensor, so the engine's copies replace the loaded ones as it goes.
    const read = (hfName: string): Tensor | undefined => {
      const name = ggufNames.get(hfName);
      if (!name) return undefined;
      let tensor = file.readTensor(name);
      if (llama && /\.self_attn\.q_proj\./.test(hfName))
        tensor = permuteRopeRows(tensor, config.numHeads, true);
      if (llama && /\.self_attn\.k_proj\./.test(hfName))
        tensor = permuteRopeRows(tensor, config.numKVHeads, true);
      return tensor;
    };
    const tensors = { get: read, has: (name: string) => ggufNames.has(name), keys: () => ggufNames.keys() };
    return new Model({ config, tokenizer, format: 'gguf', tensors, source: path, warnings });
  } finally {
    file.close();
  }
}
