// config.json of Hugging Face Llama / Mistral / Qwen2 models <-> ModelConfig.
import { FormatError } from '@meld/tensor-core';
import { z } from 'zod';
import type { ModelConfig, RopeScaling } from '../config';

const hfConfigSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.string().optional(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  head_dim: z.number().int().positive().nullish(),
  vocab_size: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive().optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: z
    .looseObject({
      type: z.string().optional(),
      rope_type: z.string().optional(),
      factor: z.number().optional(),
      low_freq_factor: z.number().optional(),
      high_freq_factor: z.number().optional(),
      original_max_position_embeddings: z.number().optional(),
    })
    .nullish(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  bos_token_id: z.number().int().nullish(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
  sliding_window: z.number().int().nullish(),
  hidden_act: z.string().optional(),
  meld_stop_at_bos: z.boolean().optional(),
});

export type HfConfigJson = z.infer<typeof hfConfigSchema>;

function architectureOf(json: HfConfigJson, file: string): ModelConfig['architecture'] {
  const type = json.model_type ?? '';
  const name = json.architectures?.[0] ?? '';
  if (type === 'llama' || name === 'LlamaForCausalLM') return 'llama';
  if (type === 'mistral' || name === 'MistralForCausalLM') return 'mistral';
  if (type === 'qwen2' || name === 'Qwen2ForCausalLM') return 'qwen2';
  throw new FormatError(
    file,
    'model_type',
    `unsupported architecture '${type || name}' (Llama, Mistral and Qwen2 are)`,
  );
}

function ropeScalingOf(json: HfConfigJson, file: string): RopeScaling | undefined {
  const scaling = json.rope_scaling;
  if (!scaling) return undefined;
  const type = scaling.rope_type ?? scaling.type;
  if (type === 'default' || type === undefined) return undefined;
  if (type === 'linear') return { type: 'linear', factor: scaling.factor ?? 1 };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: scaling.factor ?? 8,
      lowFreqFactor: scaling.low_freq_factor ?? 1,
      highFreqFactor: scaling.high_freq_factor ?? 4,
      originalMaxPositionEmbeddings: scaling.original_max_position_embeddings ?? 8192,
    };
  }
  throw new FormatError(
    file,
    'rope_scaling',
    `rope scaling '${type}' is not supported (linear and llama3 are)`,
  );
}

/** Parses config.json; `warnings` collects what is ignored. */
export function parseHfConfig(value: unknown, file: string, warnings: string[] = []): ModelConfig {
  const parsed = hfConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FormatError(file, issue?.path.join('.') || 'config', issue?.message ?? 'invalid');
  }
  const json = parsed.data;
  const architecture = architectureOf(json, file);
  if (json.hidden_act && json.hidden_act !== 'silu')
    throw new FormatError(file, 'hidden_act', `'${json.hidden_act}' is not supported (silu is)`);
  if (json.sliding_window && architecture === 'mistral') {
    warnings.push(
      `sliding_window ${json.sliding_window} is not applied: attention is full up to the context length`,
    );
  }
  const eos = json.eos_token_id;
  const ropeScaling = ropeScalingOf(json, file);
  return {
    architecture,
    hiddenSize: json.hidden_size,
    intermediateSize: json.intermediate_size,
    numLayers: json.num_hidden_layers,
    numHeads: json.num_attention_heads,
    numKVHeads: json.num_key_value_heads ?? json.num_attention_heads,
    headDim: json.head_dim ?? json.hidden_size / json.num_attention_heads,
    vocabSize: json.vocab_size,
    contextLength: json.max_position_embeddings ?? 2048,
    rmsNormEps: json.rms_norm_eps ?? 1e-6,
    ropeTheta: json.rope_theta ?? 10000,
    ...(ropeScaling ? { ropeScaling } : {}),
    tieWordEmbeddings: json.tie_word_embeddings ?? architecture === 'qwen2',
    attentionBias: architecture === 'qwen2' ? true : (json.attention_bias ?? false),
    ...(json.bos_token_id !== null && json.bos_token_id !== undefined
      ? { bosTokenId: json.bos_token_id }
      : {}),
    eosTokenIds: eos === null || eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
    stopAtBos: json.meld_stop_at_bos === true,
  };
}

/** config.json for a ModelConfig, as transformers writes it. */
export function toHfConfig(config: ModelConfig, torchDtype: string): Record<string, unknown> {
  const names = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
  } as const;
  const scaling = config.ropeScaling;
  return {
    architectures: [names[config.architecture]],
    model_type: config.architecture,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKVHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.contextLength,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: !scaling
      ? null
      : scaling.type === 'linear'
        ? { rope_type: 'linear', factor: scaling.factor }
        : {
            rope_type: 'llama3',
            factor: scaling.factor,
            low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor,
            original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
          },
    tie_word_embeddings: config.tieWordEmbeddings,
    attention_bias: config.architecture === 'qwen2' ? undefined : config.attentionBias,
    hidden_act: 'silu',
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    torch_dtype: torchDtype,
    // meld: llama2.c's stop-at-BOS rule survives a round trip.
    ...(config.stopAtBos ? { meld_stop_at_bos: true } : {}),
  };
}
