// Writes a loaded model as a Hugging Face folder: config.json, model.safetensors (sharded when
// large), tokenizer.json + tokenizer_config.json, generation_config.json. Canonical names and
// layout are already HF's, so this is a straight write.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBf16, encodeF16, Tensor, ValidationError, writeSafetensorsSharded } from '@meld/tensor-core';
import { toHfConfig } from '../load/hf-config';
import type { Model } from '../model';
import { HuggingFaceTokenizer } from '../tokenizer/huggingface-tokenizer';
import { SentencePieceBpeTokenizer } from '../tokenizer/sentencepiece-bpe';
import { sentencePieceTokenizerConfig, sentencePieceToTokenizerJson } from '../tokenizer/tokenizer-json';

export type HfDType = 'f32' | 'f16' | 'bf16';

function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temporary, path);
}

function castTensor(tensor: Tensor, dtype: HfDType): Tensor {
  if (tensor.dtype === dtype) return tensor;
  const values = tensor.toFloat32();
  if (dtype === 'f32') return Tensor.fromF32(values, tensor.shape);
  const bytes = dtype === 'f16' ? encodeF16(values) : encodeBf16(values);
  return Tensor.fromBytes(dtype, tensor.shape, bytes);
}

export interface WriteHfOptions {
  readonly dtype?: HfDType;
  readonly maxShardBytes?: number;
}

export function writeHfFolder(
  model: Model,
  folder: string,
  options: WriteHfOptions = {},
): { files: string[] } {
  const dtype = options.dtype ?? 'f32';
  if (!['f32', 'f16', 'bf16'].includes(dtype))
    throw new ValidationError('dtype', `safetensors output takes f32, f16 or bf16, not ${dtype}`);
  mkdirSync(folder, { recursive: true });
  const entries: Record<string, Tensor> = {};
  for (const [name, tensor] of model.tensors) {
    if (name === 'lm_head.weight' && model.config.tieWordEmbeddings) continue;
    const isNorm = name.endsWith('norm.weight');
    entries[name] = castTensor(tensor, isNorm && dtype !== 'f32' ? 'f32' : dtype);
  }
  const result = writeSafetensorsSharded(folder, entries, {
    metadata: { format: 'pt' },
    ...(options.maxShardBytes ? { maxShardBytes: options.maxShardBytes } : {}),
  });
  const torchDtype = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' }[dtype];
  writeJsonAtomic(join(folder, 'config.json'), toHfConfig(model.config, torchDtype));
  writeJsonAtomic(join(folder, 'generation_config.json'), {
    bos_token_id: model.config.bosTokenId,
    eos_token_id:
      model.config.eosTokenIds.length === 1 ? model.config.eosTokenIds[0] : model.config.eosTokenIds,
  });
  const tokenizer = model.tokenizer;
  if (tokenizer instanceof HuggingFaceTokenizer) {
    writeJsonAtomic(join(folder, 'tokenizer.json'), tokenizer.tokenizerJson);
    writeJsonAtomic(join(folder, 'tokenizer_config.json'), tokenizer.tokenizerConfig);
  } else if (tokenizer instanceof SentencePieceBpeTokenizer) {
    const vocabulary = tokenizer.exportVocabulary();
    writeJsonAtomic(join(folder, 'tokenizer.json'), sentencePieceToTokenizerJson(vocabulary));
    writeJsonAtomic(
      join(folder, 'tokenizer_config.json'),
      sentencePieceTokenizerConfig(vocabulary, model.config.contextLength),
    );
  }
  return {
    files: [
      ...result.files,
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ],
  };
}
