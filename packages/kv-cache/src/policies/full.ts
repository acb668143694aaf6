import { z } from 'zod';
import { defineKVPolicy } from '../policy';

/** Keeps every token; the reference the other policies are measured against. */
export const fullPolicy = defineKVPolicy({
  specificationVersion: 'v1',
  name: 'full',
  url: 'https://arxiv.org/abs/1706.03762',
  description: 'No compression: every token stays in the cache (the budget is ignored).',
  parameters: z.object({}).strict(),
  statistics: () => ({}),
  create: () => ({ compressLayer: () => {} }),
});
