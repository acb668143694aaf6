// GGUF files (llama.cpp): metadata -> ModelConfig, the embedded SentencePiece vocabulary, and the
// weights under Hugging Face names in HF layout (tensor-core's canonical names: llama.cpp's permuted
// q/k rows are moved back row by row on the raw bytes, so quantized tensors stay quantized).
import {
  FormatError,
  type GgufFile,
  ggufQKPermutation,
  ggufTensorToCanonical,
  ggufToCanonicalName,
  openGguf,
  type Tensor,
} from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { Model } from '../model';
import { SentencePieceBpeTokenizer } from '../tokenizer/sentencepiece-bpe';
import type { Tokenizer } from '../tokenizer/tokenizer';

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

export async function loadGguf(
  path: string,
  options: { contextLength?: number; tokenizer?: Tokenizer } = {},
): Promise<Model> {
  const file = openGguf(path);
  try {
    const tokenizer = options.tokenizer ?? ggufTokenizer(file);
    const config = ggufConfig(file, tokenizer.vocabSize);
    if (options.contextLength) config.contextLength = options.contextLength;
    const warnings: string[] = [];
    const permutation = ggufQKPermutation(file);
    const ggufNames = new Map<string, string>();
    for (const name of file.names) {
      const hfName = ggufToCanonicalName(name);
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
      return ggufTensorToCanonical(hfName, file.readTensor(name), permutation);
    };
    const tensors = { get: read, has: (name: string) => ggufNames.has(name), keys: () => ggufNames.keys() };
    return new Model({ config, tokenizer, format: 'gguf', tensors, source: path, warnings });
  } finally {
    file.close();
  }
}
