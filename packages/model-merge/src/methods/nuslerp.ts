// nuslerp: slerp between two models with t = w2 / (w1 + w2), flattened, row-wise or column-wise;
// with a base model it interpolates the task vectors and adds the base back.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { forEachChunk, gramMatrix, readDelta, writeCombination } from './chunks';

function interpolate(t: number, dot: number, n0: number, n1: number, eps: number): [number, number] {
  const cos = Math.min(1, Math.max(-1, dot / (Math.max(n0, eps) * Math.max(n1, eps))));
  const theta = Math.acos(cos);
  const sinTheta = Math.sin(theta);
  if (Math.abs(sinTheta) < eps) return [1 - t, t];
  return [Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta];
}

export const nuslerp = defineMergeMethod({
  name: 'nuslerp',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/nuslerp.py',
  description: 'Slerp of two models (or of their task vectors when base_model is set) with t = w2/(w1+w2).',
  base: 'optional',
  minModels: 2,
  maxModels: 2,
  parameters: z.object({
    nuslerp_flatten: z.boolean().default(true),
    nuslerp_row_wise: z.boolean().default(false),
  }),
  modelParameters: z.object({ weight: z.number().finite() }),
  merge(context) {
    const [w0, w1] = context.modelParameters.map((q) => q.weight) as [number, number];
    const t = w1 / (w0 + w1);
    const eps = 1e-8;
    const base = context.base;
    const { rowLength } = context.models[0]!;
    if (context.parameters.nuslerp_flatten || context.shape.length < 2) {
      const g = gramMatrix(context, base);
      const [c0, c1] = interpolate(t, g[0]![1]!, Math.sqrt(g[0]![0]!), Math.sqrt(g[1]![1]!), eps);
      writeCombination(context, [c0, c1], { subtractBase: base !== undefined, baseCoefficient: 1 });
      return;
    }
    const rowWise = context.parameters.nuslerp_row_wise;
    let columnStats: Float64Array | undefined;
    if (!rowWise) {
      // column-wise: dot products and norms per column, accumulated over all rows first
      columnStats = new Float64Array(3 * rowLength);
      forEachChunk(context, (rowStart, rowEnd) => {
        const a = readDelta(context.models[0]!, base, rowStart, rowEnd);
        const b = readDelta(context.models[1]!, base, rowStart, rowEnd);
        for (let k = 0; k < a.length; k++) {
          const column = k % rowLength;
          columnStats![3 * column] += a[k]! * b[k]!;
          columnStats![3 * column + 1] += a[k]! * a[k]!;
          columnStats![3 * column + 2] += b[k]! * b[k]!;
        }
      });
    }
    forEachChunk(context, (rowStart, rowEnd) => {
      const a = readDelta(context.models[0]!, base, rowStart, rowEnd);
      const b = readDelta(context.models[1]!, base, rowStart, rowEnd);
      const out = new Float32Array(a.length);
      const baseValues = base?.read(rowStart, rowEnd);
      for (let start = 0; start < a.length; start += rowLength) {
        let dot = 0;
        let n0 = 0;
        let n1 = 0;
        if (rowWise) {
          for (let k = start; k < start + rowLength; k++) {
            dot += a[k]! * b[k]!;
            n0 += a[k]! * a[k]!;
            n1 += b[k]! * b[k]!;
          }
        }
        const rowCoefficients = rowWise ? interpolate(t, dot, Math.sqrt(n0), Math.sqrt(n1), eps) : undefined;
        for (let k = start; k < start + rowLength; k++) {
          const column = k - start;
          const [c0, c1] =
            rowCoefficients ??
            interpolate(
              t,
              columnStats![3 * column]!,
              Math.sqrt(columnStats![3 * column + 1]!),
              Math.sqrt(columnStats![3 * column + 2]!),
              eps,
            );
          out[k] = c0 * a[k]! + c1 * b[k]! + (baseValues ? baseValues[k]! : 0);
        }
      }
      context.output.write(rowStart, out);
    });
  },
});
