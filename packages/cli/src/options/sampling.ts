// Sampling flags of meld generate (plain and --long-context): temperature, top-k/p, min-p,
// repetition penalty, stop strings and seed, turned into the runtime's sampling options.
import { z } from 'zod';
import type { FlagSpecs } from './parse';

export const samplingFlags = {
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  seed: { type: 'string' },
} as const satisfies FlagSpecs;

export const samplingSchema = {
  temperature: z.coerce.number().min(0).default(1),
  'top-k': z.coerce.number().int().min(0).optional(),
  'top-p': z.coerce.number().gt(0).max(1).default(0.9),
  'min-p': z.coerce.number().min(0).max(1).optional(),
  'repetition-penalty': z.coerce.number().positive().optional(),
  stop: z.array(z.string()).default([]),
  seed: z.coerce.number().int().optional(),
};

export interface SamplingFlagValues {
  temperature: number;
  'top-k'?: number | undefined;
  'top-p': number;
  'min-p'?: number | undefined;
  'repetition-penalty'?: number | undefined;
  stop: string[];
  seed?: number | undefined;
}

export interface SamplingOptions {
  temperature: number;
  topP: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop: string[];
}

/** The runtime's sampling options from the parsed flags (unset flags stay absent). */
export function samplingFromFlags(values: SamplingFlagValues): SamplingOptions {
  return {
    temperature: values.temperature,
    topP: values['top-p'],
    ...(values['top-k'] !== undefined ? { topK: values['top-k'] } : {}),
    ...(values['min-p'] !== undefined ? { minP: values['min-p'] } : {}),
    ...(values['repetition-penalty'] !== undefined
      ? { repetitionPenalty: values['repetition-penalty'] }
      : {}),
    ...(values.seed !== undefined ? { seed: values.seed } : {}),
    stop: values.stop,
  };
}
