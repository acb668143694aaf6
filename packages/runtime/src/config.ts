// The architecture description every loader produces. Field names follow Hugging Face's
// LlamaConfig in camelCase; one shape covers Llama, Mistral and Qwen2.
import { z } from 'zod';

export const ropeScalingSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('linear'), factor: z.number().positive() }),
  z.object({
    type: z.literal('llama3'),
    factor: z.number().positive(),
    lowFreqFactor: z.number().positive(),
    highFreqFactor: z.number().positive(),
    originalMaxPositionEmbeddings: z.number().int().positive(),
  }),
]);
export type RopeScaling = z.infer<typeof ropeScalingSchema>;

export const modelConfigSchema = z.object({
  architecture: z.enum(['llama', 'mistral', 'qwen2']),
  hiddenSize: z.number().int().positive(),
  intermediateSize: z.number().int().positive(),
  numLayers: z.number().int().positive(),
  numHeads: z.number().int().positive(),
  numKVHeads: z.number().int().positive(),
  headDim: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  /** Positions the model was trained for (from the file); generation may not go past it. */
  contextLength: z.number().int().positive(),
  rmsNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  ropeScaling: ropeScalingSchema.optional(),
  tieWordEmbeddings: z.boolean(),
  /** Qwen2 has biases on q/k/v projections. */
  attentionBias: z.boolean(),
  bosTokenId: z.number().int().nonnegative().optional(),
  eosTokenIds: z.array(z.number().int().nonnegative()),
  /** llama2.c's rule: a generated BOS token ends the sequence too. */
  stopAtBos: z.boolean(),
});
export type ModelConfig = z.infer<typeof modelConfigSchema>;

/** Bytes of K and V per token over all layers (f32 slots as KVCacheV1 stores them). */
export function kvBytesPerToken(config: ModelConfig): number {
  return 2 * config.numLayers * config.numKVHeads * config.headDim * 4;
}
