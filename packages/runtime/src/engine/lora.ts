// LoRA adapters applied at run time, unmerged: y = W x + sum_a weight_a * scale_a * B_a (A_a x).
// Several adapters may be active at once, each with its own weight.

/** One adapted module: A [rank, inFeatures], B [outFeatures, rank], scale = alpha / rank. */
export interface RuntimeLoraModule {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly rank: number;
  readonly scale: number;
}

/** A loaded adapter: canonical HF weight name (e.g. model.layers.0.self_attn.q_proj.weight) -> A/B. */
export interface RuntimeLoraAdapter {
  readonly name: string;
  readonly modules: ReadonlyMap<string, RuntimeLoraModule>;
}

/** An adapter with the weight it is applied with. */
export interface ActiveAdapter {
  readonly adapter: RuntimeLoraAdapter;
  readonly weight: number;
}

/** out[rows, outFeatures] += weight * scale * (x A^T) B^T for every active adapter on `name`. */
export function applyLoraDelta(
  adapters: readonly ActiveAdapter[],
  name: string,
  out: Float32Array,
  x: Float32Array,
  rows: number,
  inFeatures: number,
  outFeatures: number,
): void {
  for (const { adapter, weight } of adapters) {
    const module = adapter.modules.get(name);
    if (!module || weight === 0) continue;
    const { a, b, rank } = module;
    const factor = weight * module.scale;
    const hidden = new Float64Array(rank);
    for (let t = 0; t < rows; t++) {
      const xo = t * inFeatures;
      for (let r = 0; r < rank; r++) {
        let s = 0;
        const ao = r * inFeatures;
        for (let i = 0; i < inFeatures; i++) s += a[ao + i]! * x[xo + i]!;
        hidden[r] = s * factor;
      }
      const oo = t * outFeatures;
      for (let o = 0; o < outFeatures; o++) {
        let s = 0;
        const bo = o * rank;
        for (let r = 0; r < rank; r++) s += b[bo + r]! * hidden[r]!;
        out[oo + o]! += s;
      }
    }
  }
}
