// multislerp and karcher: spherical means of several tensors, computed in the span of the inputs
// from their Gram matrix (one pass over the data), then written as one linear combination.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { gramMatrix, writeCombination } from './chunks';

function quadratic(gram: number[][], c: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < c.length; i++) for (let j = 0; j < c.length; j++) sum += c[i]! * c[j]! * gram[i]![j]!;
  return sum;
}

function dotWith(gram: number[][], c: readonly number[], index: number): number {
  let sum = 0;
  for (let j = 0; j < c.length; j++) sum += c[j]! * gram[j]![index]!;
  return sum;
}

/** Coefficients over the raw inputs x_i of mergekit's multislerp. */
export function multislerpCoefficients(gram: number[][], weights: readonly number[], eps: number): number[] {
  const n = weights.length;
  const norms = gram.map((row, i) => Math.sqrt(Math.max(0, row[i]!)));
  // units u_i = x_i / (‖x_i‖ + eps): coefficient of x_i is 1/(‖x_i‖ + eps)
  const unitScale = norms.map((norm) => 1 / (norm + eps));
  // unit Gram
  const unitGram = gram.map((row, i) => row.map((value, j) => value * unitScale[i]! * unitScale[j]!));
  // mean m = Σ wi ui, normalised
  const meanRaw = weights.slice();
  const meanNorm = Math.sqrt(Math.max(0, quadratic(unitGram, meanRaw)));
  const averageNorm = weights.reduce((sum, w, i) => sum + w * norms[i]!, 0);
  if (meanNorm < eps) return weights.map((w) => w); // degenerate: plain weighted sum
  const mean = meanRaw.map((c) => c / meanNorm);
  // tangent T = Σ wi (ui − <ui, m> m)
  const tangent = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    const projection = dotWith(unitGram, mean, i);
    tangent[i]! += weights[i]!;
    for (let j = 0; j < n; j++) tangent[j]! -= weights[i]! * projection * mean[j]!;
  }
  const tangentNorm = Math.sqrt(Math.max(0, quadratic(unitGram, tangent)));
  const result =
    tangentNorm < eps
      ? mean.slice()
      : mean.map((c, j) => c * Math.cos(tangentNorm) + (tangent[j]! * Math.sin(tangentNorm)) / tangentNorm);
  return result.map((c, j) => c * averageNorm * unitScale[j]!);
}

/** Coefficients over the raw inputs of the Karcher (Fréchet) mean on the sphere, scaled by Σ αi‖xi‖. */
export function karcherCoefficients(
  gram: number[][],
  weights: readonly number[],
  maxIterations: number,
  tolerance: number,
): number[] {
  const n = weights.length;
  const norms = gram.map((row, i) => Math.sqrt(Math.max(0, row[i]!)));
  const total = weights.reduce((a, b) => a + b, 0);
  const alphas = weights.map((w) => w / total);
  const valid = norms.map((norm) => norm > tolerance);
  const validCount = valid.filter(Boolean).length;
  if (validCount === 0) return new Array<number>(n).fill(0);
  if (validCount === 1) return valid.map((v) => (v ? 1 : 0));
  const unitScale = norms.map((norm, i) => (valid[i] ? 1 / norm : 0));
  const unitGram = gram.map((row, i) => row.map((value, j) => value * unitScale[i]! * unitScale[j]!));
  // initial u: normalised weighted mean of the units
  let u = alphas.map((a, i) => (valid[i] ? a : 0));
  const initialNorm = Math.sqrt(Math.max(0, quadratic(unitGram, u)));
  if (initialNorm < tolerance) return alphas.slice();
  u = u.map((c) => c / initialNorm);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const tangent = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      if (!valid[i]) continue;
      const cos = Math.min(1, Math.max(-1, dotWith(unitGram, u, i)));
      const theta = Math.acos(cos);
      if (theta < tolerance) continue;
      const factor = (alphas[i]! * theta) / Math.sin(theta);
      tangent[i]! += factor;
      for (let j = 0; j < n; j++) tangent[j]! -= factor * cos * u[j]!;
    }
    const tangentNorm = Math.sqrt(Math.max(0, quadratic(unitGram, tangent)));
    if (tangentNorm < tolerance) break;
    u = u.map((c, j) => c * Math.cos(tangentNorm) + (Math.sin(tangentNorm) * tangent[j]!) / tangentNorm);
    const norm = Math.sqrt(Math.max(0, quadratic(unitGram, u)));
    u = u.map((c) => c / norm);
  }
  const scale = alphas.reduce((sum, a, i) => sum + (valid[i] ? a * norms[i]! : 0), 0);
  return u.map((c, j) => c * scale * unitScale[j]!);
}

export const multislerp = defineMergeMethod({
  name: 'multislerp',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/multislerp.py',
  description: 'Barycentric spherical interpolation of any number of models (of task vectors with a base).',
  base: 'optional',
  minModels: 2,
  parameters: z.object({
    normalize_weights: z.boolean().default(true),
    eps: z.number().positive().default(1e-8),
  }),
  modelParameters: z.object({ weight: z.number().finite() }),
  merge(context) {
    let weights = context.modelParameters.map((q) => q.weight);
    if (context.parameters.normalize_weights) {
      const total = weights.reduce((a, b) => a + b, 0);
      weights = weights.map((w) => w / total);
    }
    const gram = gramMatrix(context, context.base);
    const coefficients = multislerpCoefficients(gram, weights, context.parameters.eps);
    writeCombination(context, coefficients, { subtractBase: context.base !== undefined, baseCoefficient: 1 });
  },
});

export const karcher = defineMergeMethod({
  name: 'karcher',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/karcher.py',
  description: 'Karcher (Riemannian) mean of the models on the unit sphere, rescaled by the mean norm.',
  base: 'none',
  minModels: 1,
  parameters: z.object({
    max_iter: z.number().int().positive().default(10),
    tol: z.number().positive().default(1e-5),
  }),
  modelParameters: z.object({ weight: z.number().finite().positive().default(1) }),
  merge(context) {
    const weights = context.modelParameters.map((q) => q.weight);
    const gram = gramMatrix(context, undefined);
    const coefficients = karcherCoefficients(
      gram,
      weights,
      context.parameters.max_iter,
      context.parameters.tol,
    );
    writeCombination(context, coefficients, { subtractBase: false, baseCoefficient: 0 });
  },
});
