// An in-memory Llama with random f32 weights, for benchmarks whose timing or memory does not depend on
// the weights (KV-cache overhead, HOMER's memory curve). Canonical HF names; stories260K's tokenizer.
import { readFileSync } from 'node:fs';
import { Model, type ModelConfig, readLlama2cTokenizer } from '@meld/runtime';
import { Tensor } from '@meld/tensor-core';
import { sharedFile } from '@meld/test-utils';

export interface SyntheticLlamaShape {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly contextLength: number;
}

export interface SyntheticLlamaOptions {
  /** Seed of the LCG that fills the weights. */
  readonly seed: number;
  /** Uniform range of the embedding weights: [-scale, scale]. */
  readonly embeddingScale: number;
  /** Uniform range of the projection weights. */
  readonly weightScale: number;
  readonly stopAtBos: boolean;
  /** Shown as the model's source. */
  readonly name: string;
}

export function syntheticLlama(shape: SyntheticLlamaShape, options: SyntheticLlamaOptions): Model {
  const config: ModelConfig = {
    architecture: 'llama',
    ...shape,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    stopAtBos: options.stopAtBos,
  };
  let state = options.seed;
  const random = (rows: number, cols: number, scale: number): Tensor => {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = (state / 4294967296 - 0.5) * 2 * scale;
    }
    return Tensor.fromF32(data, [rows, cols]);
  };
  const ones = (n: number) => Tensor.fromF32(new Float32Array(n).fill(1), [n]);
  const h = config.hiddenSize;
  const f = config.intermediateSize;
  const kv = config.numKVHeads * config.headDim;
  const w = options.weightScale;
  const tensors = new Map<string, Tensor>();
  tensors.set('model.embed_tokens.weight', random(config.vocabSize, h, options.embeddingScale));
  tensors.set('model.norm.weight', ones(h));
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    tensors.set(`${p}.input_layernorm.weight`, ones(h));
    tensors.set(`${p}.post_attention_layernorm.weight`, ones(h));
    tensors.set(`${p}.self_attn.q_proj.weight`, random(h, h, w));
    tensors.set(`${p}.self_attn.k_proj.weight`, random(kv, h, w));
    tensors.set(`${p}.self_attn.v_proj.weight`, random(kv, h, w));
    tensors.set(`${p}.self_attn.o_proj.weight`, random(h, h, w));
    tensors.set(`${p}.mlp.gate_proj.weight`, random(f, h, w));
    tensors.set(`${p}.mlp.up_proj.weight`, random(f, h, w));
    tensors.set(`${p}.mlp.down_proj.weight`, random(h, f, w));
  }
  const tokenizer = readLlama2cTokenizer(readFileSync(sharedFile('models/stories260K/tok512.bin')), 512);
  return new Model({ config, tokenizer, format: 'llama2c', tensors, source: options.name });
}
