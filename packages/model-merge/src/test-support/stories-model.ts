// Test support: stories260K (llama2.c) written as a Hugging Face folder with tensor-core's writer,
// and fine-tune-like variants of it. Used only by tests.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBf16, readLlama2c, Tensor, writeSafetensorsSharded } from '@meld/tensor-core';
import { sharedFile } from '@meld/test-utils';

export interface StoriesWeights {
  readonly tensors: Map<string, Float32Array>;
  readonly shapes: Map<string, readonly number[]>;
  readonly config: Record<string, unknown>;
}

export const storiesFiles = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.model'];

export function loadStories(): StoriesWeights {
  const checkpoint = readLlama2c(new Uint8Array(readFileSync(sharedFile(storiesFiles[0]!))));
  const tensors = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [name, tensor] of checkpoint.tensors) {
    tensors.set(name, tensor.toFloat32().slice());
    shapes.set(name, tensor.shape);
  }
  const h = checkpoint.header;
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: h.dim,
    intermediate_size: h.hiddenDim,
    num_hidden_layers: h.layers,
    num_attention_heads: h.heads,
    num_key_value_heads: h.kvHeads,
    vocab_size: h.vocabSize,
    max_position_embeddings: h.seqLen,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: h.sharedClassifier,
    torch_dtype: 'float32',
  };
  return { tensors, shapes, config };
}

/** A fine-tune-like variant: every tensor plus seeded noise of relative size `scale`. */
export function perturb(weights: StoriesWeights, seed: number, scale: number): StoriesWeights {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  const tensors = new Map<string, Float32Array>();
  for (const [name, values] of weights.tensors) {
    let rms = 0;
    for (const v of values) rms += v * v;
    rms = Math.sqrt(rms / values.length);
    tensors.set(
      name,
      values.map((v) => v + scale * rms * 2 * next()),
    );
  }
  return { ...weights, tensors };
}

export interface WriteOptions {
  dtype?: 'f32' | 'bf16';
  maxShardBytes?: number;
  /** Drop or rename tensors, or change config fields, to build broken variants. */
  omit?: readonly string[];
  extra?: ReadonlyMap<string, Float32Array>;
  config?: Record<string, unknown>;
}

/** Writes a Hugging Face folder: model.safetensors (or shards + index), config.json, tokenizer.model. */
export function writeStoriesFolder(
  folder: string,
  weights: StoriesWeights,
  options: WriteOptions = {},
): string {
  mkdirSync(folder, { recursive: true });
  const entries: Record<string, Tensor> = {};
  const add = (name: string, values: Float32Array, shape: readonly number[]) => {
    entries[name] =
      options.dtype === 'bf16'
        ? Tensor.fromBytes('bf16', shape, encodeBf16(values))
        : Tensor.fromF32(values, shape);
  };
  for (const [name, values] of weights.tensors) {
    if (options.omit?.includes(name)) continue;
    add(name, values, weights.shapes.get(name)!);
  }
  for (const [name, values] of options.extra ?? []) add(name, values, [values.length]);
  writeSafetensorsSharded(folder, entries, {
    metadata: { format: 'pt' },
    ...(options.maxShardBytes ? { maxShardBytes: options.maxShardBytes } : {}),
  });
  writeFileSync(
    join(folder, 'config.json'),
    JSON.stringify({ ...weights.config, ...options.config }, null, 2),
  );
  writeFileSync(join(folder, 'tokenizer.model'), readFileSync(sharedFile(storiesFiles[1]!)));
  return folder;
}
