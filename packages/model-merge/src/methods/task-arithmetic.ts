// The generalized task arithmetic family, one parameterised implementation:
// task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear,
// magnitude_prune, and the PEFT flavours ties_peft, dare_ties_peft, dare_linear_peft.
//
//   τi = θi − θ0;  τ̂i = sparsify(τi);  Wi = wi·τ̂i
//   consensus: s = sign(Σ Wi) (or of Σ sign Wi), 0 → +;  mi = [sign Wi = s]
//   mixed = Σ mi·Wi / Σ wi·mi  (normalize_by 'weights', mergekit)  or  / Σ mi  ('count', PEFT)
//   without consensus: mixed = Σ Wi (/ Σ wi when normalize)
//   result = θ0 + λ·mixed
// mergekit: merge_methods/generalized_task_arithmetic.py; PEFT: utils/merge_utils.py.
import { z } from 'zod';
import { defineMergeMethod, type MergeMethodV1 } from '../method';
import { randomKey } from '../random';
import { forEachChunk, geometryOf, readDelta } from './chunks';
import { prepareSparsifier, type RescaleMode, type SparsificationMethod } from './sparsify';

export interface TaskArithmeticVariant {
  name: string;
  reference: string;
  description: string;
  sparsification: SparsificationMethod;
  consensus: boolean;
  defaults: {
    normalize: boolean;
    rescale: boolean;
    rescaleMode: RescaleMode;
    signSource: 'weighted' | 'unweighted';
    normalizeBy: 'weights' | 'count';
    epsilon: number;
  };
}

export function taskArithmeticMethod(variant: TaskArithmeticVariant): MergeMethodV1 {
  const d = variant.defaults;
  return defineMergeMethod({
    name: variant.name,
    reference: variant.reference,
    description: variant.description,
    base: 'required',
    minModels: 1,
    parameters: z.object({
      normalize: z.boolean().default(d.normalize),
      lambda: z.number().finite().default(1),
      int8_mask: z.boolean().default(false), // accepted for mergekit compatibility; masks are computed per chunk
      rescale: z.boolean().default(d.rescale),
      rescale_mode: z.enum(['l1', 'inverse_probability']).default(d.rescaleMode),
      consensus_method: z.enum(['sum', 'count']).default('sum'),
      majority_sign_method: z.enum(['total', 'frequency']).optional(),
      sign_source: z.enum(['weighted', 'unweighted']).default(d.signSource),
      normalize_by: z.enum(['weights', 'count']).default(d.normalizeBy),
    }),
    modelParameters: z.object({
      weight: z.number().finite().default(1),
      density: z.number().min(0).max(1).default(1),
      gamma: z.number().min(0).max(1).default(0.01),
      epsilon: z.number().min(0).max(1).default(d.epsilon),
    }),
    merge(context) {
      const base = context.base!;
      const p = context.parameters;
      const geometry = geometryOf(context);
      const countSign = p.majority_sign_method
        ? p.majority_sign_method === 'frequency'
        : p.consensus_method === 'count';
      let scratchBuffer: Float32Array | undefined;
      const scratch = () => {
        scratchBuffer ??= new Float32Array(geometry.size);
        return scratchBuffer;
      };
      const sparsifiers = context.models.map((view, index) => {
        const q = context.modelParameters[index]!;
        return prepareSparsifier(
          variant.sparsification,
          {
            density: q.density,
            gamma: q.gamma,
            epsilon: q.epsilon,
            rescale: p.rescale,
            rescaleMode: p.rescale_mode,
            key: randomKey(context.seed, context.tensorName, index),
          },
          (visit) =>
            forEachChunk(context, (rowStart, rowEnd, offset) =>
              visit(readDelta(view, base, rowStart, rowEnd), offset),
            ),
          geometry,
          scratch,
        );
      });
      scratchBuffer = undefined;
      const weights = context.modelParameters.map((q) => q.weight);
      const weightSum = weights.reduce((a, b) => a + b, 0);
      forEachChunk(context, (rowStart, rowEnd, offset) => {
        const b = base.read(rowStart, rowEnd);
        const sparse = context.models.map((view, index) => {
          const delta = readDelta(view, base, rowStart, rowEnd);
          sparsifiers[index]!.apply(delta, offset);
          return delta;
        });
        const out = new Float32Array(b.length);
        const n = sparse.length;
        for (let k = 0; k < out.length; k++) {
          let mixed = 0;
          let divisor: number;
          if (variant.consensus) {
            let signWeight = 0;
            for (let i = 0; i < n; i++) {
              const value = p.sign_source === 'weighted' ? weights[i]! * sparse[i]![k]! : sparse[i]![k]!;
              signWeight += countSign ? Math.sign(value) : value;
            }
            const majority = signWeight >= 0 ? 1 : -1;
            divisor = 0;
            for (let i = 0; i < n; i++) {
              const tau = sparse[i]![k]!;
              const value = p.sign_source === 'weighted' ? weights[i]! * tau : tau;
              if (Math.sign(value) === majority) {
                mixed += weights[i]! * tau;
                divisor += p.normalize_by === 'weights' ? weights[i]! : 1;
              }
            }
          } else {
            for (let i = 0; i < n; i++) mixed += weights[i]! * sparse[i]![k]!;
            divisor = p.normalize_by === 'weights' ? weightSum : n;
          }
          if (p.normalize) mixed /= Math.abs(divisor) < 1e-8 ? 1 : divisor;
          out[k] = b[k]! + p.lambda * mixed;
        }
        context.output.write(rowStart, out);
      });
    },
  });
}

const mk =
  'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/generalized_task_arithmetic.py';
const peft = 'https://github.com/huggingface/peft/blob/main/src/peft/utils/merge_utils.py';
const mergekitDefaults = {
  normalize: false,
  rescale: false,
  rescaleMode: 'l1',
  signSource: 'weighted',
  normalizeBy: 'weights',
  epsilon: 0,
} as const;
const peftDefaults = {
  ...mergekitDefaults,
  rescaleMode: 'inverse_probability',
  signSource: 'unweighted',
  normalizeBy: 'count',
} as const;

export const taskArithmeticVariants: readonly TaskArithmeticVariant[] = [
  {
    name: 'task_arithmetic',
    reference: `https://arxiv.org/abs/2212.04089 (${mk})`,
    description: 'θ0 + λ·Σ wi(θi − θ0).',
    sparsification: 'none',
    consensus: false,
    defaults: mergekitDefaults,
  },
  {
    name: 'ties',
    reference: `https://arxiv.org/abs/2306.01708 (${mk})`,
    description:
      'TIES: keep the top-density |τ| per model, elect a sign per element, average the agreeing deltas (by weight).',
    sparsification: 'magnitude',
    consensus: true,
    defaults: { ...mergekitDefaults, normalize: true },
  },
  {
    name: 'dare_ties',
    reference: `https://arxiv.org/abs/2311.03099 (${mk})`,
    description:
      'DARE: random keep with probability density, L1-rescaled (mergekit), then TIES sign consensus.',
    sparsification: 'bernoulli',
    consensus: true,
    defaults: { ...mergekitDefaults, rescale: true },
  },
  {
    name: 'dare_linear',
    reference: `https://arxiv.org/abs/2311.03099 (${mk})`,
    description: 'DARE without sign consensus: θ0 + λ·Σ wi·τ̂i.',
    sparsification: 'bernoulli',
    consensus: false,
    defaults: { ...mergekitDefaults, rescale: true },
  },
  {
    name: 'breadcrumbs',
    reference: `https://arxiv.org/abs/2312.06795 (${mk})`,
    description:
      'Model Breadcrumbs: drop the largest γ and the smallest 1 − density − γ of |τ|, no consensus.',
    sparsification: 'magnitude_outliers',
    consensus: false,
    defaults: mergekitDefaults,
  },
  {
    name: 'breadcrumbs_ties',
    reference: `https://arxiv.org/abs/2312.06795 (${mk})`,
    description: 'Model Breadcrumbs sparsification with TIES sign consensus.',
    sparsification: 'magnitude_outliers',
    consensus: true,
    defaults: mergekitDefaults,
  },
  {
    name: 'della',
    reference: `https://arxiv.org/abs/2406.11617 (${mk})`,
    description:
      'DELLA: per-row magnitude-ranked keep probabilities (density ± epsilon), L1-rescaled, TIES consensus.',
    sparsification: 'della_magprune',
    consensus: true,
    defaults: { ...mergekitDefaults, normalize: true, rescale: true, epsilon: 0.15 },
  },
  {
    name: 'della_linear',
    reference: `https://arxiv.org/abs/2406.11617 (${mk})`,
    description: 'DELLA sparsification without sign consensus.',
    sparsification: 'della_magprune',
    consensus: false,
    defaults: { ...mergekitDefaults, rescale: true, epsilon: 0.15 },
  },
  {
    name: 'magnitude_prune',
    reference: peft,
    description: 'PEFT magnitude_prune: θ0 + Σ wi·top-k(τi).',
    sparsification: 'magnitude',
    consensus: false,
    defaults: peftDefaults,
  },
  {
    name: 'ties_peft',
    reference: peft,
    description:
      'TIES as PEFT computes it: sign elected from the unweighted trimmed deltas, agreeing deltas divided by their count.',
    sparsification: 'magnitude',
    consensus: true,
    defaults: { ...peftDefaults, normalize: true },
  },
  {
    name: 'dare_ties_peft',
    reference: peft,
    description:
      'DARE-TIES as PEFT computes it: kept deltas divided by density, PEFT TIES consensus (count).',
    sparsification: 'bernoulli',
    consensus: true,
    defaults: { ...peftDefaults, normalize: true, rescale: true },
  },
  {
    name: 'dare_linear_peft',
    reference: peft,
    description: 'DARE-linear as PEFT computes it: Σ wi·(mask ⊙ τi)/density.',
    sparsification: 'bernoulli',
    consensus: false,
    defaults: { ...peftDefaults, rescale: true },
  },
];

export const taskArithmeticMethods: readonly MergeMethodV1[] =
  taskArithmeticVariants.map(taskArithmeticMethod);
