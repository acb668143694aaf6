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
import { commonArena } from '../merge-arena';
import { defineMergeMethod, type MergeMethodV1 } from '../method';
import { randomKey } from '../random';
import { readRowsInto } from '../tensor-view';
import { chunkCapacity, deltaOf, forEachChunk, geometryOf, rowWorkerMinimumElements } from './chunks';
import {
  type HistogramPassInput,
  histogramPassCounted,
  histogramPassRunsOnWorkers,
  planWindows,
  releaseHistograms,
  runHistogramPass,
  tiesBeforeRanges,
} from './histogram-passes';
import { createSparsifier, type RescaleMode, type SparsificationMethod } from './sparsify';

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

/**
 * out = b + λ·Σ mi·wi·τi / Σ mi·di with mi = [sign(fi·τi) = elected sign]; a top-level function so V8
 * optimises it. The two-model case (TIES' usual) computes in f32, as simd/'s consensus2 does.
 */
export function consensusKernel(
  out: Float32Array,
  b: Float32Array,
  sparse: readonly Float32Array[],
  signFactors: Float64Array,
  w: Float64Array,
  divisorFactors: Float64Array,
  countSign: boolean,
  normalize: boolean,
  lambda: number,
): void {
  const n = sparse.length;
  if (n === 2 && !countSign) {
    const [x, y] = sparse as [Float32Array, Float32Array];
    const f = Math.fround;
    const [fx, fy] = [f(signFactors[0]!), f(signFactors[1]!)];
    const [wx, wy] = [f(w[0]!), f(w[1]!)];
    const [dx, dy] = [f(divisorFactors[0]!), f(divisorFactors[1]!)];
    const l = f(lambda);
    const tiny = f(1e-8);
    // branch-free: which deltas agree with the elected sign is data-dependent and unpredictable
    for (let k = 0; k < out.length; k++) {
      const tx = x[k]!;
      const ty = y[k]!;
      const vx = f(tx * fx);
      const vy = f(ty * fy);
      const elected = 2 * +(f(vx + vy) >= 0) - 1;
      const mx = +(+(vx > 0) - +(vx < 0) === elected);
      const my = +(+(vy > 0) - +(vy < 0) === elected);
      let mixed = f(mx * f(wx * tx) + my * f(wy * ty));
      const divisor = f(mx * dx + my * dy);
      if (normalize) mixed = f(mixed / (Math.abs(divisor) < tiny ? 1 : divisor));
      out[k] = b[k]! + f(l * mixed);
    }
    return;
  }
  for (let k = 0; k < out.length; k++) {
    let signWeight = 0;
    for (let i = 0; i < n; i++) {
      const value = sparse[i]![k]! * signFactors[i]!;
      signWeight += countSign ? (value > 0 ? 1 : value < 0 ? -1 : 0) : value;
    }
    const positive = signWeight >= 0;
    let mixed = 0;
    let divisor = 0;
    for (let i = 0; i < n; i++) {
      const tau = sparse[i]![k]!;
      const value = tau * signFactors[i]!;
      if (positive ? value > 0 : value < 0) {
        mixed += w[i]! * tau;
        divisor += divisorFactors[i]!;
      }
    }
    if (normalize) mixed /= Math.abs(divisor) < 1e-8 ? 1 : divisor;
    out[k] = b[k]! + lambda * mixed;
  }
}

/** out = b + λ·Σ wi·τi / divisor, each term's factor and product rounded to f32 (as simd/'s axpyF32). */
export function sumKernel(
  out: Float32Array,
  b: Float32Array,
  sparse: readonly Float32Array[],
  w: Float64Array,
  divisor: number,
  lambda: number,
): void {
  const scale = lambda / (Math.abs(divisor) < 1e-8 ? 1 : divisor);
  out.set(b);
  for (let i = 0; i < sparse.length; i++) {
    const x = sparse[i]!;
    const factor = Math.fround(scale * w[i]!);
    for (let k = 0; k < out.length; k++) out[k] = out[k]! + Math.fround(factor * x[k]!);
  }
}

/** consensusKernel, on the SIMD kernels when every array lives in one arena and the case is theirs. */
export function consensusChunk(
  out: Float32Array,
  b: Float32Array,
  sparse: readonly Float32Array[],
  signFactors: Float64Array,
  w: Float64Array,
  divisorFactors: Float64Array,
  countSign: boolean,
  normalize: boolean,
  lambda: number,
): void {
  const arena = sparse.length === 2 && !countSign ? commonArena(out, b, ...sparse) : undefined;
  if (arena === undefined) {
    consensusKernel(out, b, sparse, signFactors, w, divisorFactors, countSign, normalize, lambda);
    return;
  }
  arena.kernels.consensus2(
    out.byteOffset,
    b.byteOffset,
    sparse[0]!.byteOffset,
    sparse[1]!.byteOffset,
    out.length,
    signFactors[0]!,
    signFactors[1]!,
    w[0]!,
    w[1]!,
    divisorFactors[0]!,
    divisorFactors[1]!,
    normalize ? 1 : 0,
    lambda,
  );
}

/** sumKernel, on the SIMD kernels when every array lives in one arena. */
export function sumChunk(
  out: Float32Array,
  b: Float32Array,
  sparse: readonly Float32Array[],
  w: Float64Array,
  divisor: number,
  lambda: number,
): void {
  const arena = commonArena(out, ...sparse);
  if (arena === undefined) {
    sumKernel(out, b, sparse, w, divisor, lambda);
    return;
  }
  const scale = lambda / (Math.abs(divisor) < 1e-8 ? 1 : divisor);
  out.set(b);
  for (let i = 0; i < sparse.length; i++)
    arena.kernels.axpyF32(out.byteOffset, sparse[i]!.byteOffset, out.length, Math.fround(scale * w[i]!));
}

/** Upper bound on delta bytes kept between passes (per tensor, all models together). */
export const deltaCacheBytes = 256 * 1024 * 1024;

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
      const sparsifiers = context.models.map((_, index) => {
        const q = context.modelParameters[index]!;
        return createSparsifier(
          variant.sparsification,
          {
            density: q.density,
            gamma: q.gamma,
            epsilon: q.epsilon,
            rescale: p.rescale,
            rescaleMode: p.rescale_mode,
            key: randomKey(context.seed, context.tensorName, index),
          },
          geometry,
        );
      });
      // learning passes: every model in lockstep, the base decoded once per chunk
      const passes = Math.max(0, ...sparsifiers.map((s) => s.passes));
      // With several passes, small and mid-size tensors keep their deltas from the first pass
      // (bounded by deltaCacheBytes) instead of decoding every input again in each pass.
      const cache =
        passes > 1 && context.models.length * geometry.size * 4 <= (context.cacheBytes ?? deltaCacheBytes)
          ? (context.scratch?.take(context.models.length, geometry.size) ??
            context.models.map(() => new Float32Array(geometry.size)))
          : undefined;
      // one reused chunk buffer for the base and one per model: decode + subtract in one pass, no
      // allocation per chunk, and chunks small enough to stay in cache between the fused loops
      const capacity = chunkCapacity(context);
      const [baseBuffer, outBuffer, ...deltaBuffers] =
        context.scratch?.chunks(context.models.length + 2, capacity) ??
        Array.from({ length: context.models.length + 2 }, () => new Float32Array(capacity));
      const readBase = (rowStart: number, rowEnd: number) =>
        readRowsInto(base, rowStart, rowEnd, baseBuffer!);
      const deltaAt = (
        index: number,
        b: Float32Array | undefined,
        rowStart: number,
        rowEnd: number,
        offset: number,
      ) =>
        cache && (b === undefined || cacheFilled)
          ? cache[index]!.subarray(offset, offset + (rowEnd - rowStart) * geometry.rowLength)
          : // while the cache fills, the delta is decoded straight into its slot (no second copy)
            deltaOf(
              context.models[index]!,
              b!,
              rowStart,
              rowEnd,
              cache ? cache[index]!.subarray(offset) : deltaBuffers[index],
            );
      let cacheFilled = false;
      const pool = context.rowWorkers;
      const onWorkers: HistogramPassInput | undefined =
        pool && geometry.size >= rowWorkerMinimumElements
          ? {
              pool,
              sparsifiers,
              base: base.raw,
              models: context.models.map((view) => view.raw),
              cache,
              rowLength: geometry.rowLength,
              rowCount: geometry.rowCount,
              chunkElements: context.chunkElements,
            }
          : undefined;
      // per learning pass run on the workers, its per-range counts (kept for the ties of the final pass)
      const counts: (Uint32Array[][][] | undefined)[] = [];
      if (onWorkers && passes >= 2 && histogramPassRunsOnWorkers(onWorkers, 0))
        planWindows(onWorkers, (index, row) =>
          deltaOf(context.models[index]!, readBase(row, row + 1), row, row + 1, deltaBuffers[index]),
        );
      for (let pass = 0; pass < passes; pass++) {
        if (onWorkers && pass === 1 && counts[0] && histogramPassCounted(sparsifiers, pass)) {
          // pass 0's windows held every threshold bucket: nothing left to count
        } else if (onWorkers && pass < 2 && histogramPassRunsOnWorkers(onWorkers, pass)) {
          counts[pass] = runHistogramPass(onWorkers, pass as 0 | 1, cache !== undefined && !cacheFilled);
        } else {
          forEachChunk(context, (rowStart, rowEnd, offset) => {
            const b = cacheFilled ? undefined : readBase(rowStart, rowEnd);
            context.models.forEach((_, index) => {
              const sparsifier = sparsifiers[index]!;
              if (pass >= sparsifier.passes && !(cache && !cacheFilled)) return;
              const delta = deltaAt(index, b, rowStart, rowEnd, offset);
              if (pass < sparsifier.passes) sparsifier.observe(pass, delta, offset);
            });
          });
        }
        if (cache) cacheFilled = true;
        for (const sparsifier of sparsifiers) if (pass < sparsifier.passes) sparsifier.endPass(pass);
        if (pass === 0 && counts[0] && sparsifiers.some((s) => s.passes > 0 && s.histogramPass?.(0)?.high)) {
          // a window missed its rank: count the high bits after all (for those sparsifiers only)
          releaseHistograms(pool!, runHistogramPass(onWorkers!, 0, false));
          for (const sparsifier of sparsifiers) if (sparsifier.passes > 0) sparsifier.endPass(0);
        }
      }
      const weights = context.modelParameters.map((q) => q.weight);
      const weightSum = weights.reduce((a, b) => a + b, 0);
      // hot-loop constants (no property lookups or string compares per element)
      const w = Float64Array.from(weights);
      const signFactors = Float64Array.from(weights, (x) => (p.sign_source === 'weighted' ? x : 1));
      const divisorFactors = Float64Array.from(weights, (x) => (p.normalize_by === 'weights' ? x : 1));
      const plainDivisor = p.normalize_by === 'weights' ? weightSum : weights.length;
      const { normalize, lambda } = p;
      // large tensors: the same final pass, rows split between worker threads
      const specs = sparsifiers.map((sparsifier) => sparsifier.workerSpec?.());
      // the last learning pass counted each range's threshold ties when it ran on the workers
      const seenBefore =
        counts.length > 0 && passes === 2 ? tiesBeforeRanges(counts, sparsifiers, specs) : undefined;
      for (const counted of counts) if (counted) releaseHistograms(pool!, counted);
      const cacheRaws = cache?.map((array) => ({ dtype: 'f32' as const, array }));
      if (
        pool &&
        geometry.size >= rowWorkerMinimumElements &&
        specs.every((spec) => spec !== undefined) &&
        pool.accepts(
          [base.raw, ...context.models.map((view) => view.raw), ...(cacheRaws ?? [])],
          context.output.raw,
        )
      ) {
        pool.taskArithmetic({
          base: base.raw!,
          models: context.models.map((view) => view.raw!),
          ...(cache ? { cache } : {}),
          specs,
          ...(seenBefore ? { seenBefore } : {}),
          consensus: variant.consensus,
          countSign,
          normalize,
          lambda,
          weights: w,
          signFactors,
          divisorFactors,
          divisor: normalize ? plainDivisor : 1,
          output: context.output.raw!,
          rowLength: geometry.rowLength,
          rowCount: geometry.rowCount,
          chunkElements: context.chunkElements,
        });
        return;
      }
      forEachChunk(context, (rowStart, rowEnd, offset) => {
        const b = readBase(rowStart, rowEnd);
        const sparse = context.models.map((_, index) => {
          const delta = deltaAt(index, b, rowStart, rowEnd, offset);
          sparsifiers[index]!.apply(delta, offset);
          return delta;
        });
        const out = outBuffer!.subarray(0, b.length);
        if (variant.consensus)
          consensusChunk(out, b, sparse, signFactors, w, divisorFactors, countSign, normalize, lambda);
        else sumChunk(out, b, sparse, w, normalize ? plainDivisor : 1, lambda);
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
