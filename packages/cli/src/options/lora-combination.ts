// Flags shared by meld lora merge and meld lora continual: how adapters are combined.
import { loraCombinations } from '@meld/model-merge';
import { z } from 'zod';
import type { FlagSpecs } from './parse';

export const loraCombinationFlags = {
  method: { type: 'string' },
  density: { type: 'string' },
  seed: { type: 'string' },
  overwrite: { type: 'boolean' },
} as const satisfies FlagSpecs;

/** --method (default `defaultMethod`), --density (1), --seed (0), --overwrite (false). */
export function loraCombinationSchema(defaultMethod: (typeof loraCombinations)[number]) {
  return {
    method: z
      .enum(loraCombinations, { error: `--method must be one of ${loraCombinations.join(', ')}` })
      .default(defaultMethod),
    density: z.coerce.number().min(0).max(1).default(1),
    seed: z.coerce.number().int().min(0).default(0),
    overwrite: z.boolean().default(false),
  };
}
