// The training-time Llama forward on the tape: frozen base weights plus LoRA factors
// (y = x·Wᵀ + s·(dropout(x)·Aᵀ)·Bᵀ), returning logits or the final hidden states.
import { ValidationError } from '@meld/tensor-core';
import { causalAttention } from '../autodiff/attention';
import { rmsnorm, rope, ropeTable } from '../autodiff/norm-rope';
import { add, dropout, embedding, linear, scale, swiglu } from '../autodiff/ops';
import { type Tape, Variable } from '../autodiff/tape';
import type { LoraParameters } from '../lora/lora-parameters';
import { type BaseWeights, headDim, validateBaseWeights } from './llama-config';

/** A batch of token rows, each `seqLen` long, flattened row-major. */
export interface TokenBatch {
  batch: number;
  seqLen: number;
  inputIds: Int32Array;
  /** RoPE position of each token; default 0..seqLen-1 in every row. */
  positions?: Int32Array;
  /** For packed rows: index (within its row) where each token's document starts. */
  documentStarts?: Int32Array;
}

/** Base weights wrapped once as frozen variables. */
export class FrozenModel {
  readonly weights: BaseWeights;
  private readonly variables = new Map<string, Variable>();

  constructor(weights: BaseWeights) {
    validateBaseWeights(weights);
    this.weights = weights;
    for (const [name, tensor] of weights.tensors) {
      this.variables.set(name, new Variable(tensor.data, tensor.shape, false, name));
    }
  }

  get config() {
    return this.weights.config;
  }

  variable(name: string): Variable {
    const v = this.variables.get(name);
    if (!v) throw new ValidationError(`weights.${name}`, 'missing from the base model');
    return v;
  }
}

export interface ForwardOptions {
  lora?: LoraParameters;
  /** Uniform [0,1) source for LoRA dropout; dropout is skipped when omitted (evaluation). */
  dropoutRandom?: () => number;
  /** Stop after the final norm and return hidden states [B·T, hidden] instead of logits. */
  output?: 'logits' | 'hidden';
}

function defaultPositions(batch: number, seqLen: number): Int32Array {
  const positions = new Int32Array(batch * seqLen);
  for (let i = 0; i < positions.length; i++) positions[i] = i % seqLen;
  return positions;
}

export function trainForward(
  tape: Tape,
  model: FrozenModel,
  tokens: TokenBatch,
  options: ForwardOptions = {},
): Variable {
  const config = model.config;
  const hd = headDim(config);
  const positions = tokens.positions ?? defaultPositions(tokens.batch, tokens.seqLen);
  const table = ropeTable(positions, hd, config.ropeTheta);
  const lora = options.lora;

  const project = (x: Variable, moduleName: string): Variable => {
    const y = linear(tape, x, model.variable(`${moduleName}.weight`));
    const module = lora?.modules.get(moduleName);
    if (!module || !lora) return y;
    const input =
      options.dropoutRandom && lora.config.dropout > 0
        ? dropout(tape, x, lora.config.dropout, options.dropoutRandom)
        : x;
    const low = linear(tape, linear(tape, input, module.a), module.b);
    return add(tape, y, scale(tape, low, lora.scaling));
  };

  let x = embedding(tape, model.variable('model.embed_tokens.weight'), tokens.inputIds);
  const attentionShape = {
    batch: tokens.batch,
    seqLen: tokens.seqLen,
    heads: config.numHeads,
    kvHeads: config.numKeyValueHeads,
    headDim: hd,
    documentStarts: tokens.documentStarts,
  };
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsnorm(tape, x, model.variable(`${p}.input_layernorm.weight`), config.rmsNormEps);
    const q = rope(tape, project(h, `${p}.self_attn.q_proj`), table);
    const k = rope(tape, project(h, `${p}.self_attn.k_proj`), table);
    const v = project(h, `${p}.self_attn.v_proj`);
    const attention = causalAttention(tape, q, k, v, attentionShape);
    x = add(tape, x, project(attention, `${p}.self_attn.o_proj`));
    const h2 = rmsnorm(tape, x, model.variable(`${p}.post_attention_layernorm.weight`), config.rmsNormEps);
    const gate = project(h2, `${p}.mlp.gate_proj`);
    const up = project(h2, `${p}.mlp.up_proj`);
    x = add(tape, x, project(swiglu(tape, gate, up), `${p}.mlp.down_proj`));
  }
  const hidden = rmsnorm(tape, x, model.variable('model.norm.weight'), config.rmsNormEps);
  if (options.output === 'hidden') return hidden;
  const head = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  return linear(tape, hidden, model.variable(head));
}
