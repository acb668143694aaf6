// The decoder shape the training forward needs, in Hugging Face Llama terms, and the base weights
// it reads (canonical HF names and layout: q/k rows in rotate_half order, Linear weights [out, in]).
import { ShapeMismatchError, ValidationError } from '@meld/tensor-core';
import { z } from 'zod';

export const llamaConfigSchema = z.object({
  vocabSize: z.number().int().positive(),
  hiddenSize: z.number().int().positive(),
  intermediateSize: z.number().int().positive(),
  numLayers: z.number().int().positive(),
  numHeads: z.number().int().positive(),
  numKeyValueHeads: z.number().int().positive(),
  /** Per-head width; default hiddenSize / numHeads. */
  headDim: z.number().int().positive().optional(),
  rmsNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  maxPositionEmbeddings: z.number().int().positive(),
  tieWordEmbeddings: z.boolean(),
});

export type LlamaConfig = z.infer<typeof llamaConfigSchema>;

export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Base (frozen) weights by canonical HF name, e.g. 'model.layers.0.self_attn.q_proj.weight'. */
export interface BaseWeights {
  readonly config: LlamaConfig;
  readonly tensors: ReadonlyMap<string, WeightTensor>;
}

export function headDim(config: LlamaConfig): number {
  return config.headDim ?? config.hiddenSize / config.numHeads;
}

/** Every weight a Llama decoder needs, with its expected shape. */
export function expectedWeightShapes(config: LlamaConfig): Map<string, number[]> {
  const d = config.hiddenSize;
  const kv = config.numKeyValueHeads * headDim(config);
  const qWidth = config.numHeads * headDim(config);
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocabSize, d]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.set(`${p}.input_layernorm.weight`, [d]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [qWidth, d]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kv, d]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kv, d]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [d, qWidth]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [config.intermediateSize, d]);
    shapes.set(`${p}.mlp.up_proj.weight`, [config.intermediateSize, d]);
    shapes.set(`${p}.mlp.down_proj.weight`, [d, config.intermediateSize]);
  }
  shapes.set('model.norm.weight', [d]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [config.vocabSize, d]);
  return shapes;
}

/** Checks that every needed tensor is present with the right shape. */
export function validateBaseWeights(weights: BaseWeights): void {
  llamaConfigSchema.parse(weights.config);
  if (weights.config.headDim === undefined && weights.config.hiddenSize % weights.config.numHeads !== 0) {
    throw new ValidationError('config.numHeads', 'must divide hiddenSize');
  }
  if (weights.config.numHeads % weights.config.numKeyValueHeads !== 0) {
    throw new ValidationError('config.numKeyValueHeads', 'must divide numHeads');
  }
  for (const [name, shape] of expectedWeightShapes(weights.config)) {
    const tensor = weights.tensors.get(name);
    if (!tensor) throw new ValidationError(`weights.${name}`, 'missing from the base model');
    const size = shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== size) throw new ShapeMismatchError(name, shape, tensor.shape);
  }
}

/** The linear layers LoRA may target, by their module name suffix. */
export const attentionModules = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
export const mlpModules = ['gate_proj', 'up_proj', 'down_proj'] as const;

/** Canonical module names of every linear layer in attention and MLP blocks. */
export function linearModuleNames(config: LlamaConfig): string[] {
  const names: string[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    for (const m of attentionModules) names.push(`model.layers.${l}.self_attn.${m}`);
    for (const m of mlpModules) names.push(`model.layers.${l}.mlp.${m}`);
  }
  return names;
}
