// MergeRepair's continual merging and its evaluation harness (mqddd/mergerepair merge/merger.py):
// along an order π, M1 = A_π1 and Mk = combine(Mk−1, A_πk); with the default equal-weight step
// Mk = (Mk−1 + A_πk)/2, so adapter k≥2 ends with weight 2^−(n−k+1) and the first with 2^−(n−1).
import { type LoraAdapter, ValidationError } from '@meld/tensor-core';
import { type CombineLoraOptions, combineLoraAdapters, type LoraCombination } from './combine';

/** The effective weights of a continual equal-weight chain of n adapters. */
export function continualWeights(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 2 ** -(n - 1) : 2 ** -(n - i)));
}

export interface ContinualMergeOptions extends Omit<CombineLoraOptions, 'weights'> {
  /** Weights of (previous merge, next adapter) at each step; default [0.5, 0.5], or [1, 1] for ties/dare (as MergeRepair calls PEFT). */
  stepWeights?: [number, number];
}

export interface ContinualMergeResult {
  readonly adapter: LoraAdapter;
  readonly warnings: readonly string[];
}

const consensusCombinations: readonly LoraCombination[] = [
  'ties',
  'dare_ties',
  'dare_linear',
  'ties_svd',
  'dare_ties_svd',
  'dare_linear_svd',
];

/** Merges adapters one after another along the given order. */
export function continualMerge(
  adapters: readonly LoraAdapter[],
  options: ContinualMergeOptions = {},
): ContinualMergeResult {
  if (adapters.length === 0) throw new ValidationError('order', 'give at least one adapter');
  const combination = options.combination ?? 'mean';
  const stepWeights =
    options.stepWeights ?? (consensusCombinations.includes(combination) ? [1, 1] : [0.5, 0.5]);
  let merged = adapters[0]!;
  const warnings: string[] = [];
  for (const next of adapters.slice(1)) {
    const step = combineLoraAdapters([merged, next], { ...options, combination, weights: stepWeights });
    merged = step.adapter;
    warnings.push(...step.warnings);
  }
  return { adapter: merged, warnings };
}

export interface CombinationScore {
  /** Adapter names in the order merged. */
  readonly names: readonly string[];
  readonly score: number;
}

export interface EvaluateCombinationsOptions {
  readonly adapters: ReadonlyMap<string, LoraAdapter> | Readonly<Record<string, LoraAdapter>>;
  /** 'subsets': every subset (equal-weight merge); 'orders': every ordered arrangement (continual merge). */
  readonly mode: 'subsets' | 'orders';
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Only combinations containing these names (MergeRepair keeps T1 in every continual order). */
  readonly mustInclude?: readonly string[];
  /** How a list of adapters becomes one (default: mean for subsets, continualMerge for orders). */
  readonly merge?: (adapters: readonly LoraAdapter[], names: readonly string[]) => LoraAdapter;
  /** User-supplied score of a merged adapter (higher is better). */
  readonly score: (adapter: LoraAdapter, names: readonly string[]) => number | Promise<number>;
}

function* subsets<T>(items: readonly T[], size: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === size) {
    yield [...prefix];
    return;
  }
  for (let i = start; i < items.length; i++) yield* subsets(items, size, i + 1, [...prefix, items[i]!]);
}

function* arrangements<T>(items: readonly T[], size: number, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === size) {
    yield [...prefix];
    return;
  }
  for (const item of items) if (!prefix.includes(item)) yield* arrangements(items, size, [...prefix, item]);
}

/** Scores every subset or order of the adapters; rows sorted by score, best first. */
export async function evaluateAdapterCombinations(
  options: EvaluateCombinationsOptions,
): Promise<CombinationScore[]> {
  const map = options.adapters instanceof Map ? options.adapters : new Map(Object.entries(options.adapters));
  const names = [...map.keys()];
  const minSize = options.minSize ?? (options.mode === 'subsets' ? 2 : 2);
  const maxSize = options.maxSize ?? names.length;
  const merge =
    options.merge ??
    ((list: readonly LoraAdapter[]) =>
      options.mode === 'subsets'
        ? combineLoraAdapters(list, { combination: 'mean' }).adapter
        : continualMerge(list).adapter);
  const rows: CombinationScore[] = [];
  for (let size = minSize; size <= maxSize; size++) {
    const generator = options.mode === 'subsets' ? subsets(names, size) : arrangements(names, size);
    for (const combination of generator) {
      if (options.mustInclude && !options.mustInclude.every((n) => combination.includes(n))) continue;
      const adapters = combination.map((n) => map.get(n)!);
      const merged = merge(adapters, combination);
      rows.push({ names: combination, score: await options.score(merged, combination) });
    }
  }
  return rows.sort((a, b) => b.score - a.score);
}

/** A markdown table of scored combinations. */
export function formatScoreTable(rows: readonly CombinationScore[], separator = ' → '): string {
  const lines = ['| rank | adapters | score |', '| ---: | --- | ---: |'];
  rows.forEach((row, i) => {
    lines.push(`| ${i + 1} | ${row.names.join(separator)} | ${row.score.toFixed(4)} |`);
  });
  return lines.join('\n');
}
