// nearswap: take the secondary model's value where it is within t of the base, interpolating by distance.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { forEachChunk } from './chunks';

export const nearswap = defineMergeMethod({
  name: 'nearswap',
  reference:
    'https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001 (mergekit merge_methods/nearswap.py)',
  description: 'w = clamp(t / |θ0 − θ1|, 0, 1) per element; result w·θ1 + (1 − w)·θ0.',
  base: 'required',
  minModels: 1,
  maxModels: 1,
  parameters: z.object({ t: z.number().finite() }),
  modelParameters: z.object({}),
  merge(context) {
    const t = context.parameters.t;
    const base = context.base!;
    const model = context.models[0]!;
    forEachChunk(context, (rowStart, rowEnd) => {
      const b = base.read(rowStart, rowEnd);
      const m = model.read(rowStart, rowEnd);
      const out = new Float32Array(b.length);
      for (let i = 0; i < out.length; i++) {
        let w = t / Math.abs(b[i]! - m[i]!);
        if (!Number.isFinite(w)) w = 1; // nan_to_num(nan=1, posinf=1)
        w = Math.min(1, Math.max(0, w));
        out[i] = w * m[i]! + (1 - w) * b[i]!;
      }
      context.output.write(rowStart, out);
    });
  },
});
