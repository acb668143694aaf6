// --kv-policy / --kv-budget / --kv-param / --kv-every: a KV-cache policy from @meld/kv-cache.
import { resolveKVOptions } from '@meld/kv-cache';
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { UsageError } from '../command';
import type { FlagSpecs } from './parse';

export const kvCacheFlags = {
  'kv-policy': { type: 'string' },
  'kv-budget': { type: 'string' },
  'kv-param': { type: 'string', multiple: true },
  'kv-every': { type: 'string' },
} as const satisfies FlagSpecs;

export const kvCacheSchema = {
  'kv-policy': z.string().default('full'),
  'kv-budget': z.string().optional(),
  'kv-param': z.array(z.string()).default([]),
  'kv-every': z.coerce.number().int().min(0).default(0),
};

export interface KVCacheFlagValues {
  'kv-policy': string;
  'kv-budget'?: string | undefined;
  'kv-param': string[];
  'kv-every': number;
}

/** --kv-* flags to a cache factory; a bad value is a UsageError naming its flag. */
export function resolveKVFlags(values: KVCacheFlagValues): ReturnType<typeof resolveKVOptions> {
  try {
    return resolveKVOptions({
      policy: values['kv-policy'],
      ...(values['kv-budget'] !== undefined ? { budget: values['kv-budget'] } : {}),
      params: values['kv-param'],
      compressEvery: values['kv-every'],
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const flag = error.path.startsWith('params')
      ? '--kv-param'
      : error.path === 'compressEvery'
        ? '--kv-every'
        : `--kv-${error.path}`;
    throw new UsageError(`${flag}: ${error.message}`);
  }
}
