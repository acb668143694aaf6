// Writes a loaded model as a GGUF file (llama.cpp's layout): llama.* metadata, the SentencePiece
// vocabulary, q/k rows permuted to llama.cpp's interleaved RoPE order, weights as f32, f16 or q8_0
// (norms stay f32; a matrix whose rows are not whole q8_0 blocks falls back to f16, as llama.cpp does).
import {
  canonicalTensorToGguf,
  canonicalToGgufName,
  type GgufValue,
  ValidationError,
  writeGguf,
} from '@meld/tensor-core';
import type { Model } from '../model';
import { SentencePieceBpeTokenizer } from '../tokenizer/sentencepiece-bpe';

export type GgufOutputDType = 'f32' | 'f16' | 'q8_0';

const fileTypes: Record<GgufOutputDType, number> = { f32: 0, f16: 1, q8_0: 7 };

export function writeGgufModel(
  model: Model,
  path: string,
  options: { dtype?: GgufOutputDType } = {},
): { warnings: string[] } {
  const dtype = options.dtype ?? 'f32';
  if (!(dtype in fileTypes))
    throw new ValidationError('dtype', `GGUF output takes f32, f16 or q8_0, not ${dtype}`);
  const tokenizer = model.tokenizer;
  if (!(tokenizer instanceof SentencePieceBpeTokenizer)) {
    throw new ValidationError(
      'tokenizer',
      'GGUF output needs a SentencePiece vocabulary (llama2.c or GGUF source); this model has a tokenizer.json',
    );
  }
  const { config } = model;
  if (config.architecture === 'mistral' || config.ropeScaling?.type === 'llama3') {
    throw new ValidationError(
      'model',
      `GGUF output of ${config.architecture} with ${config.ropeScaling?.type ?? 'no'} rope scaling is not supported`,
    );
  }
  const arch = config.architecture === 'qwen2' ? 'qwen2' : 'llama';
  const vocabulary = tokenizer.exportVocabulary();
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: model.source.split(/[\\/]/).filter(Boolean).pop() ?? 'model' }],
    ['general.file_type', u32(fileTypes[dtype])],
    [`${arch}.context_length`, u32(config.contextLength)],
    [`${arch}.embedding_length`, u32(config.hiddenSize)],
    [`${arch}.feed_forward_length`, u32(config.intermediateSize)],
    [`${arch}.block_count`, u32(config.numLayers)],
    [`${arch}.attention.head_count`, u32(config.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(config.numKVHeads)],
    [`${arch}.attention.key_length`, u32(config.headDim)],
    [`${arch}.attention.value_length`, u32(config.headDim)],
    [`${arch}.rope.dimension_count`, u32(config.headDim)],
    [`${arch}.rope.freq_base`, f32(config.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(config.rmsNormEps)],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    [
      'tokenizer.ggml.tokens',
      {
        type: 'array',
        elementType: 'string',
        value: vocabulary.pieces.map((piece, id) => {
          if (id === vocabulary.unkTokenId) return '<unk>';
          if (id === vocabulary.bosTokenId) return '<s>';
          if (id === vocabulary.eosTokenId) return '</s>';
          return piece.replaceAll(' ', '\u2581');
        }),
      },
    ],
    ['tokenizer.ggml.scores', { type: 'array', elementType: 'f32', value: Array.from(vocabulary.scores) }],
    [
      'tokenizer.ggml.token_type',
      {
        type: 'array',
        elementType: 'i32',
        value: vocabulary.pieces.map((piece, id) => {
          if (id === vocabulary.unkTokenId) return 2;
          if (vocabulary.controlTokens.has(id)) return 3;
          return /^<0x[0-9A-Fa-f]{2}>$/.test(piece) ? 6 : 1;
        }),
      },
    ],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: vocabulary.addBos }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: vocabulary.addDummyPrefix }],
  ]);
  if (config.ropeScaling?.type === 'linear') {
    metadata.set(`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' });
    metadata.set(`${arch}.rope.scaling.factor`, f32(config.ropeScaling.factor));
  }
  if (vocabulary.bosTokenId !== undefined)
    metadata.set('tokenizer.ggml.bos_token_id', u32(vocabulary.bosTokenId));
  if (vocabulary.eosTokenId !== undefined)
    metadata.set('tokenizer.ggml.eos_token_id', u32(vocabulary.eosTokenId));
  if (vocabulary.unkTokenId !== undefined)
    metadata.set('tokenizer.ggml.unknown_token_id', u32(vocabulary.unkTokenId));

  const warnings: string[] = [];
  const tensors = [];
  for (const [name, tensor] of model.tensors) {
    if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
    const ggufName = canonicalToGgufName(name);
    if (!ggufName) {
      warnings.push(`${name}: no GGUF name, skipped`);
      continue;
    }
    const isMatrix = tensor.shape.length === 2;
    const columns = tensor.shape[tensor.shape.length - 1]!;
    let type = isMatrix ? { f32: 'F32', f16: 'F16', q8_0: 'Q8_0' }[dtype] : 'F32';
    if (type === 'Q8_0' && columns % 32 !== 0) {
      type = 'F16';
      warnings.push(`${name}: ${columns} columns are not whole q8_0 blocks, written as f16`);
    }
    const permutation = arch === 'llama' ? { heads: config.numHeads, kvHeads: config.numKVHeads } : undefined;
    tensors.push({
      name: ggufName,
      shape: tensor.shape,
      type,
      data: () => canonicalTensorToGguf(name, tensor, permutation),
    });
  }
  writeGguf(path, { metadata, tensors });
  return { warnings };
}
