// LoRA hyper-parameters, validated with zod, and PEFT's target_modules semantics:
// a list matches a module whose name equals an entry or ends with '.' + entry; a string is a regular
// expression that must match the whole module name; 'all-linear' means every attention and MLP linear.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { attentionModules, mlpModules } from '../model/llama-config';

export const defaultTargetModules: readonly string[] = [...attentionModules, ...mlpModules];

export const loraConfigSchema = z.object({
  rank: z.number().int().positive().default(16),
  alpha: z.number().positive().default(16),
  dropout: z.number().min(0).lt(1).default(0.05),
  /** rsLoRA: scale by alpha/√rank instead of alpha/rank. */
  useRslora: z.boolean().default(false),
  targetModules: z
    .union([z.array(z.string().min(1)).min(1), z.string().min(1)])
    .default([...defaultTargetModules]),
});

export type LoraConfigInput = z.input<typeof loraConfigSchema>;
export type LoraConfig = z.output<typeof loraConfigSchema>;

export function parseLoraConfig(input: LoraConfigInput): LoraConfig {
  const result = loraConfigSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ValidationError(`lora.${issue.path.join('.')}`, issue.message);
  }
  return result.data;
}

/** The factor applied to B·A: alpha/r, or alpha/√r with rsLoRA. */
export function loraScaling(config: Pick<LoraConfig, 'rank' | 'alpha' | 'useRslora'>): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.rank) : config.alpha / config.rank;
}

/** Whether `moduleName` (e.g. 'model.layers.0.mlp.up_proj') is targeted, as PEFT decides it. */
export function matchesTarget(moduleName: string, targetModules: readonly string[] | string): boolean {
  if (typeof targetModules === 'string') {
    if (targetModules === 'all-linear') {
      return defaultTargetModules.some((m) => moduleName === m || moduleName.endsWith(`.${m}`));
    }
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${targetModules})$`);
    } catch (error) {
      throw new ValidationError('lora.targetModules', `not a valid regular expression: ${String(error)}`);
    }
    return pattern.test(moduleName);
  }
  return targetModules.some((target) => moduleName === target || moduleName.endsWith(`.${target}`));
}

/** The module names among `candidates` that `targetModules` selects; fails when none match. */
export function selectTargetModules(
  candidates: readonly string[],
  targetModules: readonly string[] | string,
): string[] {
  const selected = candidates.filter((name) => matchesTarget(name, targetModules));
  if (selected.length === 0) {
    throw new ValidationError(
      'lora.targetModules',
      `matches none of the model's linear layers (e.g. ${candidates.slice(0, 3).join(', ')})`,
    );
  }
  return selected;
}
