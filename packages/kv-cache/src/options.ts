// Plain options for the CLI and the HTTP server: a policy name, a budget, parameters. Validated with
// zod; failures are ValidationErrors naming the field.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { type KVBudget, kvBudgetSchema, parseKVBudget } from './budget';
import { CompressedKVCache } from './compressed-cache';
import type { KVCacheShape, KVCacheV1 } from './contract';
import { FullKVCache } from './full-cache';
import type { KVPolicyV1 } from './policy';
import { getKVPolicy } from './registry';

export const kvOptionsSchema = z
  .object({
    /** Policy name (snake_case), default 'full'. */
    policy: z.string().default('full'),
    /** '35%', 0.35, '512' or 512; required unless the policy is 'full'. */
    budget: z.union([z.string(), z.number(), kvBudgetSchema]).optional(),
    /** Per-layer budgets, same forms as `budget`. */
    layerBudgets: z.array(z.union([z.string(), z.number(), kvBudgetSchema])).optional(),
    /** Policy parameters: an object, or CLI-style 'key=value' strings. */
    params: z.union([z.record(z.string(), z.unknown()), z.array(z.string())]).optional(),
    /** Compress during decoding every n steps; 0 = prompt only. */
    compressEvery: z.number().int().min(0).default(0),
    seed: z.number().int().default(0),
  })
  .strict();

export type KVOptionsInput = z.input<typeof kvOptionsSchema>;

export interface ResolvedKVOptions {
  readonly policy: KVPolicyV1;
  readonly parameters: unknown;
  readonly budget: KVBudget | undefined;
  readonly compressEvery: number;
  /** A fresh cache for a model of this shape (a FullKVCache for 'full' or when no budget is set). */
  createCache(shape: KVCacheShape): KVCacheV1 & { resetPeak(): void };
}

/** Validate plain options and return a cache factory. Throws ValidationError naming the bad field. */
export function resolveKVOptions(input: KVOptionsInput): ResolvedKVOptions {
  const parsed = kvOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(issue?.path.join('.') || 'kv', issue?.message ?? 'invalid KV options');
  }
  const options = parsed.data;
  const policy = getKVPolicy(options.policy);
  const rawParameters = Array.isArray(options.params)
    ? parseKVParams(options.params)
    : (options.params ?? {});
  const parameterResult = policy.parameters.safeParse(rawParameters);
  if (!parameterResult.success) {
    const issue = parameterResult.error.issues[0];
    const path = issue?.path.join('.');
    throw new ValidationError(
      path ? `params.${path}` : 'params',
      `${policy.name}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const parameters = parameterResult.data;
  const budget = options.budget === undefined ? undefined : toBudget(options.budget, 'budget');
  if (budget === undefined && policy.name !== 'full') {
    throw new ValidationError('budget', `policy "${policy.name}" needs a budget (e.g. 35% or 512)`);
  }
  const layerBudgets = options.layerBudgets?.map((b, i) => toBudget(b, `layerBudgets.${i}`));
  return {
    policy,
    parameters,
    budget,
    compressEvery: options.compressEvery,
    createCache(shape) {
      if (policy.name === 'full' || budget === undefined) return new FullKVCache(shape);
      return new CompressedKVCache(shape, {
        policy,
        parameters,
        budget,
        compressEvery: options.compressEvery,
        seed: options.seed,
        ...(layerBudgets === undefined ? {} : { layerBudgets }),
      });
    },
  };
}

/** 'key=value' strings to an object: numbers and true/false are converted, anything else stays a string. */
export function parseKVParams(entries: readonly string[], field = 'params'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new ValidationError(field, `expected key=value, got "${entry}"`);
    const key = entry.slice(0, equals).trim();
    const text = entry.slice(equals + 1).trim();
    const number = Number(text);
    out[key] =
      text === 'true'
        ? true
        : text === 'false'
          ? false
          : text !== '' && Number.isFinite(number)
            ? number
            : text;
  }
  return out;
}

function toBudget(value: string | number | KVBudget, field: string): KVBudget {
  return typeof value === 'object' ? value : parseKVBudget(value, field);
}
