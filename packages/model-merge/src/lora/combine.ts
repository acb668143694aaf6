// Combining PEFT LoRA adapters (huggingface/peft tuners/lora/model.py add_weighted_adapter), with
// PEFT's known scaling mistakes fixed:
//  - the merged config has r = new rank, lora_alpha = r and use_rslora = false (PEFT inherits
//    use_rslora, so scale becomes √r instead of 1: peft#3449 / #3761);
//  - svd variants weight each ΔWi = si·Bi·Ai by wi once (PEFT multiplied wi·si into the weight and
//    then get_delta_weight applied si again: fixed upstream by peft#3111).
// Combination types:
//  linear, ties, dare_ties, dare_linear, magnitude_prune: PEFT's own semantics, applied to the A
//    stack (weights sgn(wi·si)·√|wi·si|) and the B stack (√|wi·si|) separately. Not exact: B′A′ has
//    cross terms Bi·Aj (peft#3004); kept for compatibility.
//  cat: A′ = [w1·s1·A1; …], B′ = [B1 … Bn] ⇒ B′A′ = Σ wi·si·Bi·Ai exactly; rank Σ ri.
//  svd, ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd: ΔW = merge(wi, ΔWi) then a
//    truncated SVD: B′ = U_r·diag(S_r), A′ = Vh_r (exact up to the rank cut).
//  mean: MergeRepair's equal-weight average of every A and every B tensor separately.
import {
  adapterScale,
  createLoraAdapter,
  type LoraAdapter,
  type LoraModuleWeights,
  loraDelta,
  type PeftLoraConfigInput,
  svd,
  Tensor,
  ValidationError,
} from '@meld/tensor-core';
import { z } from 'zod';
import { mergeTensors } from '../merge-tensors';
import { quantile } from '../select';

export const loraCombinations = [
  'linear',
  'cat',
  'svd',
  'ties',
  'ties_svd',
  'dare_linear',
  'dare_ties',
  'dare_linear_svd',
  'dare_ties_svd',
  'magnitude_prune',
  'magnitude_prune_svd',
  'mean',
] as const;
export type LoraCombination = (typeof loraCombinations)[number];

export const combineLoraOptionsSchema = z.object({
  weights: z.array(z.number().finite()).optional(),
  combination: z.enum(loraCombinations).default('svd'),
  /** ties / dare / magnitude_prune density. */
  density: z.number().min(0).max(1).default(1),
  majoritySignMethod: z.enum(['total', 'frequency']).default('total'),
  /** Rank of svd outputs (default: the largest input rank). */
  svdRank: z.number().int().positive().optional(),
  /** Clamp U·S and Vh to ± this quantile of their values (PEFT svd_clamp). */
  svdClamp: z.number().gt(0).lt(1).optional(),
  seed: z.number().int().min(0).default(0),
});
export type CombineLoraOptions = z.input<typeof combineLoraOptionsSchema>;

export interface CombineLoraResult {
  readonly adapter: LoraAdapter;
  readonly warnings: readonly string[];
}

const peftMethod: Record<string, string> = {
  linear: 'task_arithmetic',
  svd: 'task_arithmetic',
  ties: 'ties_peft',
  ties_svd: 'ties_peft',
  dare_linear: 'dare_linear_peft',
  dare_linear_svd: 'dare_linear_peft',
  dare_ties: 'dare_ties_peft',
  dare_ties_svd: 'dare_ties_peft',
  magnitude_prune: 'magnitude_prune',
  magnitude_prune_svd: 'magnitude_prune',
};

function parseOptions(options: CombineLoraOptions) {
  const result = combineLoraOptionsSchema.safeParse(options);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`lora.${issue.path.join('.')}`, issue.message);
  }
  return result.data;
}

/** PEFT's merge_utils functions over a stack of same-shape tensors (no base: task vectors). */
function mergeStack(
  method: string,
  tensors: readonly Float32Array[],
  weights: readonly number[],
  shape: readonly number[],
  options: { density: number; majoritySignMethod: 'total' | 'frequency'; seed: number; name: string },
): Float32Array {
  if (method === 'task_arithmetic') {
    const out = new Float32Array(tensors[0]!.length);
    tensors.forEach((t, i) => {
      for (let k = 0; k < out.length; k++) out[k]! += weights[i]! * t[k]!;
    });
    return out;
  }
  return mergeTensors({
    method,
    base: new Float32Array(tensors[0]!.length),
    models: tensors,
    shape,
    modelParameters: weights.map((weight) => ({ weight, density: options.density })),
    parameters:
      method === 'magnitude_prune' || method === 'dare_linear_peft'
        ? {}
        : { majority_sign_method: options.majoritySignMethod },
    seed: options.seed,
    tensorName: options.name,
  }).tensor.toFloat32();
}

function product(
  b: Float32Array,
  a: Float32Array,
  outer: number,
  rank: number,
  inner: number,
  scale: number,
): Float32Array {
  return loraDelta(
    {
      module: 'product',
      kind: 'linear',
      a: Tensor.fromF32(a, [rank, inner]),
      b: Tensor.fromF32(b, [outer, rank]),
    },
    { scale },
  ).toFloat32();
}

function mergedConfig(
  first: LoraAdapter,
  rank: number,
  adapters: readonly LoraAdapter[],
  modules: Iterable<string>,
): PeftLoraConfigInput {
  const targets = new Set<string>();
  for (const adapter of adapters) {
    const t = adapter.config.target_modules;
    if (Array.isArray(t)) for (const name of t) targets.add(name);
  }
  const suffixes = new Set([...modules].map((m) => m.split('.').at(-1)!));
  return {
    ...first.config,
    r: rank,
    lora_alpha: rank,
    use_rslora: false,
    rank_pattern: {},
    alpha_pattern: {},
    target_modules: targets.size > 0 ? [...new Set([...targets, ...suffixes])] : [...suffixes],
  };
}

/** Combines adapters into one (see the file comment for every combination's exact meaning). */
export function combineLoraAdapters(
  adapters: readonly LoraAdapter[],
  options: CombineLoraOptions = {},
): CombineLoraResult {
  const o = parseOptions(options);
  if (adapters.length === 0) throw new ValidationError('adapters', 'give at least one adapter');
  const weights = o.weights ?? adapters.map(() => (o.combination === 'mean' ? 1 / adapters.length : 1));
  if (weights.length !== adapters.length) {
    throw new ValidationError('weights', `${weights.length} weights for ${adapters.length} adapters`);
  }
  const warnings: string[] = [];
  const first = adapters[0]!;
  const moduleNames = [...new Set(adapters.flatMap((a) => [...a.modules.keys()]))];
  for (const adapter of adapters) {
    if (adapter.config.fan_in_fan_out !== first.config.fan_in_fan_out) {
      throw new ValidationError('adapters', 'adapters disagree on fan_in_fan_out');
    }
  }
  const modules: LoraModuleWeights[] = [];
  let outputRank = 0;
  const extra = new Map<string, Tensor>();
  for (const module of moduleNames) {
    const present = adapters
      .map((adapter, index) => ({ adapter, index, weights: adapter.modules.get(module) }))
      .filter((p) => p.weights);
    if (present.length < adapters.length)
      warnings.push(`${module}: only in ${present.length} of ${adapters.length} adapters`);
    const kind = present[0]!.weights!.kind;
    const [outer, inner] = [present[0]!.weights!.b.shape[0]!, present[0]!.weights!.a.shape[1]!];
    const ranks = present.map((p) => p.weights!.a.shape[0]!);
    const scales = present.map((p) => adapterScale(p.adapter, module));
    const w = present.map((p) => weights[p.index]!);
    const as = present.map((p) => p.weights!.a.toFloat32());
    const bs = present.map((p) => p.weights!.b.toFloat32());
    const c = o.combination;
    if (c === 'mean') {
      if (ranks.some((r) => r !== ranks[0]))
        throw new ValidationError('adapters', `${module}: 'mean' needs equal ranks, got ${ranks.join(', ')}`);
      const total = w.reduce((x, y) => x + y, 0);
      const average = (list: Float32Array[]) => {
        const out = new Float32Array(list[0]!.length);
        list.forEach((t, i) => {
          for (let k = 0; k < out.length; k++) out[k]! += (w[i]! / total) * t[k]!;
        });
        return out;
      };
      modules.push({
        module,
        kind,
        a: Tensor.fromF32(average(as), [ranks[0]!, inner]),
        b: Tensor.fromF32(average(bs), [outer, ranks[0]!]),
      });
      outputRank = Math.max(outputRank, ranks[0]!);
      continue;
    }
    if (c === 'cat') {
      const rank = ranks.reduce((x, y) => x + y, 0);
      const a = new Float32Array(rank * inner);
      const b = new Float32Array(outer * rank);
      let offset = 0;
      present.forEach((_, i) => {
        const r = ranks[i]!;
        const factor = w[i]! * scales[i]!;
        for (let k = 0; k < r * inner; k++) a[offset * inner + k] = factor * as[i]![k]!;
        for (let row = 0; row < outer; row++)
          for (let j = 0; j < r; j++) b[row * rank + offset + j] = bs[i]![row * r + j]!;
        offset += r;
      });
      modules.push({
        module,
        kind,
        a: Tensor.fromF32(a, [rank, inner]),
        b: Tensor.fromF32(b, [outer, rank]),
      });
      outputRank = Math.max(outputRank, rank);
      continue;
    }
    const method = peftMethod[c]!;
    const stackOptions = { density: o.density, majoritySignMethod: o.majoritySignMethod, seed: o.seed };
    if (!c.endsWith('_svd') && c !== 'svd') {
      if (ranks.some((r) => r !== ranks[0])) {
        throw new ValidationError(
          'adapters',
          `${module}: '${c}' needs equal ranks (got ${ranks.join(', ')}); use cat or svd`,
        );
      }
      const r = ranks[0]!;
      const rootA = w.map((wi, i) => Math.sign(wi * scales[i]!) * Math.sqrt(Math.abs(wi * scales[i]!)));
      const rootB = w.map((wi, i) => Math.sqrt(Math.abs(wi * scales[i]!)));
      const a = mergeStack(method, as, rootA, [r, inner], { ...stackOptions, name: `${module}.lora_A` });
      const b = mergeStack(method, bs, rootB, [outer, r], { ...stackOptions, name: `${module}.lora_B` });
      modules.push({ module, kind, a: Tensor.fromF32(a, [r, inner]), b: Tensor.fromF32(b, [outer, r]) });
      outputRank = Math.max(outputRank, r);
      continue;
    }
    // svd family: merge the full deltas ΔWi = si·Bi·Ai (weights wi applied once, in the merge)
    const deltas = present.map((_, i) => product(bs[i]!, as[i]!, outer, ranks[i]!, inner, scales[i]!));
    const delta = mergeStack(method, deltas, w, [outer, inner], { ...stackOptions, name: module });
    const rank = Math.min(o.svdRank ?? Math.max(...ranks), outer, inner);
    const result = svd(delta, outer, inner, { rank, seed: o.seed });
    const b = new Float32Array(outer * rank);
    for (let row = 0; row < outer; row++)
      for (let j = 0; j < rank; j++) b[row * rank + j] = result.u[row * rank + j]! * result.s[j]!;
    const a = result.vt.slice();
    if (o.svdClamp !== undefined) {
      const all = new Float32Array(b.length + a.length);
      all.set(b);
      all.set(a, b.length);
      const high = quantile(all, o.svdClamp);
      for (const t of [a, b])
        for (let k = 0; k < t.length; k++) t[k] = Math.min(high, Math.max(-high, t[k]!));
    }
    modules.push({ module, kind, a: Tensor.fromF32(a, [rank, inner]), b: Tensor.fromF32(b, [outer, rank]) });
    outputRank = Math.max(outputRank, rank);
  }
  // extra tensors (modules_to_save): averaged with the same weights when all adapters have them
  for (const name of new Set(adapters.flatMap((a) => [...a.extra.keys()]))) {
    const holders = adapters
      .map((a, i) => ({ tensor: a.extra.get(name), weight: weights[i]! }))
      .filter((h) => h.tensor);
    const total = holders.reduce((x, h) => x + h.weight, 0);
    const out = new Float32Array(holders[0]!.tensor!.size);
    for (const h of holders) {
      const values = h.tensor!.toFloat32();
      for (let k = 0; k < out.length; k++) out[k]! += (h.weight / total) * values[k]!;
    }
    extra.set(name, Tensor.fromF32(out, holders[0]!.tensor!.shape));
    if (holders.length < adapters.length)
      warnings.push(`${name}: saved module only in ${holders.length} adapters; averaged over those`);
  }
  const config =
    o.combination === 'mean' ? { ...first.config } : mergedConfig(first, outputRank, adapters, moduleNames);
  if (o.combination !== 'mean') {
    // per-module ranks that differ from r go to rank_pattern / alpha_pattern (scale stays 1)
    const rankPattern: Record<string, number> = {};
    for (const m of modules) if (m.a.shape[0] !== outputRank) rankPattern[m.module] = m.a.shape[0]!;
    config.rank_pattern = rankPattern;
    config.alpha_pattern = { ...rankPattern };
  } else if (
    adapters.some(
      (a) =>
        a.config.r !== first.config.r ||
        a.config.lora_alpha !== first.config.lora_alpha ||
        a.config.use_rslora !== first.config.use_rslora,
    )
  ) {
    warnings.push(
      "'mean' averages factors of adapters with different r/alpha/use_rslora; the first adapter's config is kept",
    );
  }
  const adapter = createLoraAdapter(config, modules, extra);
  return { adapter, warnings: [...warnings, ...adapter.warnings] };
}
