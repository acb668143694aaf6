// Model Stock: t = N·c / (1 + (N−1)·c) with c the mean pairwise cosine of the task vectors;
// result t·mean(θi) + (1−t)·θ0. filter_wise computes c (and t) per row.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { forEachChunk, gramMatrix, readDelta, writeCombination } from './chunks';

function stockT(gram: number[][], n: number): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const denominator = Math.max(Math.sqrt(gram[i]![i]!) * Math.sqrt(gram[j]![j]!), 1e-8);
      sum += Math.min(1, Math.max(-1, gram[i]![j]! / denominator));
      pairs++;
    }
  }
  const c = sum / pairs;
  return (n * c) / (1 + (n - 1) * c);
}

export const modelStock = defineMergeMethod({
  name: 'model_stock',
  reference: 'https://arxiv.org/abs/2403.19522 (mergekit merge_methods/model_stock.py)',
  description:
    'Model Stock: interpolate between the base and the average of the fine-tunes by their task-vector angle.',
  base: 'required',
  minModels: 2,
  parameters: z.object({ filter_wise: z.boolean().default(false) }),
  modelParameters: z.object({}),
  merge(context) {
    const base = context.base!;
    const n = context.models.length;
    if (!context.parameters.filter_wise || context.shape.length < 2) {
      const t = stockT(gramMatrix(context, base), n);
      writeCombination(
        context,
        context.models.map(() => t / n),
        { subtractBase: false, baseCoefficient: 1 - t },
      );
      return;
    }
    const rowLength = base.rowLength;
    forEachChunk(context, (rowStart, rowEnd) => {
      const b = base.read(rowStart, rowEnd);
      const deltas = context.models.map((view) => readDelta(view, base, rowStart, rowEnd));
      const out = new Float32Array(b.length);
      const gram = Array.from({ length: n }, () => new Array<number>(n).fill(0));
      for (let start = 0; start < b.length; start += rowLength) {
        for (let i = 0; i < n; i++) {
          for (let j = i; j < n; j++) {
            let sum = 0;
            for (let k = start; k < start + rowLength; k++) sum += deltas[i]![k]! * deltas[j]![k]!;
            gram[i]![j] = gram[j]![i] = sum;
          }
        }
        const t = stockT(gram, n);
        for (let k = start; k < start + rowLength; k++) {
          let mean = 0;
          for (let i = 0; i < n; i++) mean += deltas[i]![k]! + b[k]!;
          out[k] = (t * mean) / n + (1 - t) * b[k]!;
        }
      }
      context.output.write(rowStart, out);
    });
  },
});
