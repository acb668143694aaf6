// Resolving parameter settings for one tensor: mergekit's precedence
// (slice source > slice > model entry > global) and value forms (scalar, gradient, filters).
import { ValidationError } from '@meld/tensor-core';
import type { ParameterSetting, ParameterSettings } from './schema';

export type ParameterValue = number | boolean | string;

/** numpy.interp of a gradient list at t ∈ [0, 1] (points evenly spaced). */
export function evaluateGradient(values: readonly number[], t: number): number {
  if (values.length === 1) return values[0]!;
  const position = Math.min(1, Math.max(0, t)) * (values.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(values.length - 1, lower + 1);
  return values[lower]! + (values[upper]! - values[lower]!) * (position - lower);
}

/** The value of one setting for a tensor, or undefined when no filter matches. */
export function evaluateSetting(
  setting: ParameterSetting,
  tensorName: string,
  t: number,
): ParameterValue | undefined {
  if (!Array.isArray(setting)) return setting;
  if (setting.length === 0) return undefined;
  if (typeof setting[0] === 'number') return evaluateGradient(setting as number[], t);
  for (const condition of setting as { filter?: string; value: ParameterValue | number[] }[]) {
    if (condition.filter === undefined || tensorName.includes(condition.filter)) {
      return Array.isArray(condition.value) ? evaluateGradient(condition.value, t) : condition.value;
    }
  }
  return undefined;
}

/** Looks a parameter up along a chain of settings (most specific first). */
export function resolveParameters(
  names: readonly string[],
  chain: readonly (ParameterSettings | undefined)[],
  tensorName: string,
  t: number,
): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const name of names) {
    for (const settings of chain) {
      const setting = settings?.[name];
      if (setting === undefined) continue;
      const value = evaluateSetting(setting, tensorName, t);
      if (value !== undefined) {
        out[name] = value;
        break;
      }
    }
  }
  return out;
}

export function requireNumber(value: unknown, path: string): number {
  if (typeof value !== 'number')
    throw new ValidationError(path, `expected a number, got ${JSON.stringify(value)}`);
  return value;
}
