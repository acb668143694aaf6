// linear (model soups): Σ wi θi / Σ wi.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { writeCombination } from './chunks';

export const linear = defineMergeMethod({
  name: 'linear',
  reference: 'https://arxiv.org/abs/2203.05482 (mergekit merge_methods/linear.py)',
  description:
    'Weighted average of the models (model soups). The base model, if listed in models, is an ordinary member.',
  base: 'none',
  minModels: 1,
  parameters: z.object({ normalize: z.boolean().default(true) }),
  modelParameters: z.object({ weight: z.number().finite() }),
  merge(context) {
    const weights = context.modelParameters.map((p) => p.weight);
    let total = weights.reduce((a, b) => a + b, 0);
    if (!context.parameters.normalize) total = 1;
    if (Math.abs(total) < 1e-12) total = 1;
    writeCombination(
      context,
      weights.map((w) => w / total),
      { subtractBase: false, baseCoefficient: 0 },
    );
  },
});
