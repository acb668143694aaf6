// A second float64 reference, for tests only: a Hugging Face-layout Llama/Mistral/Qwen2 forward
// (rotate_half RoPE with linear / llama3 scaling, q/k/v biases, GQA), written with plain loops over
// Float64Arrays and sharing nothing with src/engine.

export interface ReferenceHfConfig {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  eps: number;
  theta: number;
  scaling?:
    | { kind: 'linear'; factor: number }
    | { kind: 'llama3'; factor: number; low: number; high: number; original: number };
  bias: boolean;
}

type Weights = (name: string) => Float64Array;

function linear(w: Float64Array, x: Float64Array, outFeatures: number, bias?: Float64Array): Float64Array {
  const inFeatures = x.length;
  const out = new Float64Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < inFeatures; i++) s += w[o * inFeatures + i]! * x[i]!;
    out[o] = s;
  }
  return out;
}

function norm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const value of x) ss += value * value;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((value, i) => value * r * weight[i]!);
}

function frequencies(config: ReferenceHfConfig): number[] {
  const result: number[] = [];
  for (let i = 0; i < config.headDim / 2; i++) {
    let f = config.theta ** (-(2 * i) / config.headDim);
    const s = config.scaling;
    if (s?.kind === 'linear') f /= s.factor;
    if (s?.kind === 'llama3') {
      const wavelength = (2 * Math.PI) / f;
      if (wavelength > s.original / s.low) f /= s.factor;
      else if (wavelength >= s.original / s.high) {
        const t = (s.original / wavelength - s.low) / (s.high - s.low);
        f = (1 - t) * (f / s.factor) + t * f;
      }
    }
    result.push(f);
  }
  return result;
}

function rotate(
  vector: Float64Array,
  heads: number,
  headDim: number,
  position: number,
  freqs: number[],
): void {
  for (let h = 0; h < heads; h++) {
    const base = h * headDim;
    const copy = vector.slice(base, base + headDim);
    for (let i = 0; i < headDim; i++) {
      const pair = i < headDim / 2 ? i : i - headDim / 2;
      const angle = position * freqs[pair]!;
      const rotated = i < headDim / 2 ? -copy[i + headDim / 2]! : copy[i - headDim / 2]!;
      vector[base + i] = copy[i]! * Math.cos(angle) + rotated * Math.sin(angle);
    }
  }
}

/** Logits for every position of `tokens` (positions 0..n-1). */
export function referenceHfLogits(
  config: ReferenceHfConfig,
  weight: Weights,
  tokens: number[],
  tied: boolean,
): Float64Array[] {
  const { hidden, heads, kvHeads, headDim, layers } = config;
  const freqs = frequencies(config);
  const keys: Float64Array[][] = Array.from({ length: layers }, () => []);
  const values: Float64Array[][] = Array.from({ length: layers }, () => []);
  const embed = weight('model.embed_tokens.weight');
  const head = tied ? embed : weight('lm_head.weight');
  return tokens.map((token, position) => {
    let x = embed.slice(token * hidden, (token + 1) * hidden);
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}`;
      const h = norm(x, weight(`${p}.input_layernorm.weight`), config.eps);
      const b = (name: string) => (config.bias ? weight(`${p}.self_attn.${name}.bias`) : undefined);
      const q = linear(weight(`${p}.self_attn.q_proj.weight`), h, heads * headDim, b('q_proj'));
      const k = linear(weight(`${p}.self_attn.k_proj.weight`), h, kvHeads * headDim, b('k_proj'));
      const v = linear(weight(`${p}.self_attn.v_proj.weight`), h, kvHeads * headDim, b('v_proj'));
      rotate(q, heads, headDim, position, freqs);
      rotate(k, kvHeads, headDim, position, freqs);
      keys[l]!.push(k);
      values[l]!.push(v);
      const attended = new Float64Array(heads * headDim);
      for (let head = 0; head < heads; head++) {
        const kv = Math.floor((head * kvHeads) / heads);
        const scores = keys[l]!.map((key) => {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[head * headDim + d]! * key[kv * headDim + d]!;
          return s / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, c) => a + c, 0);
        exps.forEach((e, t) => {
          for (let d = 0; d < headDim; d++)
            attended[head * headDim + d]! += (e / total) * values[l]![t]![kv * headDim + d]!;
        });
      }
      const o = linear(weight(`${p}.self_attn.o_proj.weight`), attended, hidden);
      x = x.map((value, i) => value + o[i]!);
      const h2 = norm(x, weight(`${p}.post_attention_layernorm.weight`), config.eps);
      const gate = linear(weight(`${p}.mlp.gate_proj.weight`), h2, config.intermediate);
      const up = linear(weight(`${p}.mlp.up_proj.weight`), h2, config.intermediate);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = linear(weight(`${p}.mlp.down_proj.weight`), act, hidden);
      x = x.map((value, i) => value + down[i]!);
    }
    return linear(head, norm(x, weight('model.norm.weight'), config.eps), config.vocab);
  });
}
