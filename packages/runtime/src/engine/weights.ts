// Model weights as the engine uses them, built from canonical HF-named tensors.
import { FormatError, type Tensor } from '@meld/tensor-core';
import type { ModelConfig } from '../config';
import { type Linear, linearFromTensor, WeightStore } from './linear';

export interface LayerWeights {
  readonly inputNorm: Float32Array;
  readonly postAttentionNorm: Float32Array;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
}

export interface TransformerWeights {
  /** [vocab, hidden], any dtype; rows are decoded on lookup. */
  readonly embedTokens: Tensor;
  readonly layers: readonly LayerWeights[];
  readonly norm: Float32Array;
  readonly lmHead: Linear;
}

/** Where weights come from: a Map, or a lazy reader (each tensor read once, on demand). */
export interface TensorSource {
  get(name: string): Tensor | undefined;
  has(name: string): boolean;
  keys(): Iterable<string>;
}

/**
 * Builds the engine's weights, reading each tensor from `tensors` once. `loaded` receives every
 * non-linear tensor read (norms, embeddings, biases), so callers need not read them again.
 */
export function buildTransformerWeights(
  config: ModelConfig,
  tensors: TensorSource,
  file = 'model',
  loaded: Map<string, Tensor> = new Map(),
): TransformerWeights {
  const optional = (name: string) => {
    const known = loaded.get(name);
    if (known) return known;
    const tensor = tensors.get(name);
    if (tensor && !/_proj\.weight$|^lm_head\.weight$/.test(name)) loaded.set(name, tensor);
    return tensor;
  };
  const get = (name: string): Tensor => {
    const tensor = optional(name);
    if (!tensor) throw new FormatError(file, name, 'tensor missing');
    return tensor;
  };
  const store = new WeightStore();
  const linear = (name: string, withBias = false) =>
    linearFromTensor(
      `${name}.weight`,
      get(`${name}.weight`),
      store,
      withBias ? optional(`${name}.bias`) : undefined,
    );
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    layers.push({
      inputNorm: get(`${p}.input_layernorm.weight`).toFloat32(),
      postAttentionNorm: get(`${p}.post_attention_layernorm.weight`).toFloat32(),
      q: linear(`${p}.self_attn.q_proj`, config.attentionBias),
      k: linear(`${p}.self_attn.k_proj`, config.attentionBias),
      v: linear(`${p}.self_attn.v_proj`, config.attentionBias),
      o: linear(`${p}.self_attn.o_proj`),
      gate: linear(`${p}.mlp.gate_proj`),
      up: linear(`${p}.mlp.up_proj`),
      down: linear(`${p}.mlp.down_proj`),
    });
  }
  const embedTokens = get('model.embed_tokens.weight');
  const head = optional('lm_head.weight') ?? (config.tieWordEmbeddings ? embedTokens : get('lm_head.weight'));
  const lmHead = linearFromTensor('lm_head.weight', head, store);
  return {
    embedTokens,
    layers,
    norm: get('model.norm.weight').toFloat32(),
    lmHead,
  };
}

/** Every linear of the model (layers in order, then the LM head). */
export function allLinears(weights: TransformerWeights): Linear[] {
  return [
    ...weights.layers.flatMap((layer) => [
      layer.q,
      layer.k,
      layer.v,
      layer.o,
      layer.gate,
      layer.up,
      layer.down,
    ]),
    weights.lmHead,
  ];
}
