// slerp: spherical interpolation between the base (t = 0) and one other model (t = 1), over the
// flattened tensor; falls back to lerp when the directions are nearly colinear (|cos Ω| > 0.9995).
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { gramMatrix, writeCombination } from './chunks';

/** Coefficients (c0, c1) with slerp = c0·v0 + c1·v1, from the Gram entries of v0, v1. */
export function slerpCoefficients(
  t: number,
  g00: number,
  g01: number,
  g11: number,
  eps = 1e-8,
): [number, number] {
  const n0 = Math.sqrt(g00);
  const n1 = Math.sqrt(g11);
  const dot = g01 / ((n0 > eps ? n0 : 1) * (n1 > eps ? n1 : 1));
  if (Math.abs(dot) > 0.9995) return [1 - t, t];
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  return [Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta];
}

export const slerp = defineMergeMethod({
  name: 'slerp',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/slerp.py',
  description: 'Spherical linear interpolation from base_model (t = 0) to the other model (t = 1).',
  base: 'required',
  minModels: 1,
  maxModels: 1,
  parameters: z.object({ t: z.number().finite() }),
  modelParameters: z.object({}),
  merge(context) {
    const views = [context.base!, context.models[0]!];
    const g = gramMatrix({ ...context, models: views }, undefined);
    const [c0, c1] = slerpCoefficients(context.parameters.t, g[0]![0]!, g[0]![1]!, g[1]![1]!);
    writeCombination({ ...context, base: undefined, models: views }, [c0, c1], {
      subtractBase: false,
      baseCoefficient: 0,
    });
  },
});
