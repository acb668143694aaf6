// A KV budget: how many slots each (layer, KV head) may keep, as a ratio of the tokens the layer has
// seen or as a token count, uniform or per layer.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';

export type KVBudget =
  | { readonly type: 'ratio'; readonly ratio: number }
  | { readonly type: 'tokens'; readonly tokens: number };

export const kvBudgetSchema = z.union([
  z.object({ type: z.literal('ratio'), ratio: z.number().gt(0).lte(1) }),
  z.object({ type: z.literal('tokens'), tokens: z.number().int().gte(1) }),
]);

/**
 * Parse a budget as the CLI and HTTP bodies write it: `0.35` or `35%` is a ratio, an integer >= 1 is a
 * token count (so `1` means one token; write `100%` for the whole sequence). Numbers pass through the
 * same rule. Throws a ValidationError naming `field`.
 */
export function parseKVBudget(input: string | number, field = 'budget'): KVBudget {
  const text = String(input).trim();
  if (text.endsWith('%')) {
    const percent = Number(text.slice(0, -1));
    if (!Number.isFinite(percent) || percent <= 0 || percent > 100) {
      throw new ValidationError(field, `a percentage must be in (0, 100], got "${text}"`);
    }
    return { type: 'ratio', ratio: percent / 100 };
  }
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError(
      field,
      `expected a ratio in (0, 1), a percentage, or a token count >= 1, got "${text}"`,
    );
  }
  if (value < 1) return { type: 'ratio', ratio: value };
  if (!Number.isInteger(value)) {
    throw new ValidationError(field, `a token count must be an integer, got "${text}"`);
  }
  return { type: 'tokens', tokens: value };
}

/** Slots a head may keep when its layer has seen `seen` tokens (at least 1, at most `seen`). */
export function budgetSlots(budget: KVBudget, seen: number): number {
  const slots = budget.type === 'ratio' ? Math.floor(budget.ratio * seen + 1e-9) : budget.tokens;
  return Math.max(1, Math.min(seen, slots));
}

/** A readable form: `35%` or `512 tokens`. */
export function formatKVBudget(budget: KVBudget): string {
  return budget.type === 'ratio' ? `${Number((budget.ratio * 100).toFixed(4))}%` : `${budget.tokens} tokens`;
}
