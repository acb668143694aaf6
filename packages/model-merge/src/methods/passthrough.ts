// passthrough: copies the single source tensor, optionally scaled (frankenmerges with slices).
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { writeCombination } from './chunks';

export const passthrough = defineMergeMethod({
  name: 'passthrough',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/passthrough.py',
  description:
    'Copies the one input tensor unchanged (times `scale` when given); used with slices to stack layers.',
  base: 'none',
  minModels: 1,
  maxModels: 1,
  parameters: z.object({}),
  modelParameters: z.object({ scale: z.number().finite().default(1) }),
  merge(context) {
    writeCombination(context, [context.modelParameters[0]!.scale], {
      subtractBase: false,
      baseCoefficient: 0,
    });
  },
});
