// adapter_config.json of a PEFT LoRA adapter (huggingface/peft src/peft/tuners/lora/config.py),
// validated with zod. Unknown fields are kept so that a config read and written again loses nothing.
import { z } from 'zod';
import { ValidationError } from '../errors';

export const peftLoraConfigSchema = z
  .looseObject({
    peft_type: z.literal('LORA').default('LORA'),
    r: z.number().int().positive().default(8),
    lora_alpha: z.number().positive().default(8),
    /** A list matches module names by suffix; a string is a regex the whole name must match. */
    target_modules: z
      .union([z.array(z.string()), z.string()])
      .nullable()
      .default(null),
    use_rslora: z.boolean().default(false),
    lora_dropout: z.number().min(0).max(1).default(0),
    task_type: z.string().nullable().default(null),
    base_model_name_or_path: z.string().nullable().default(null),
    bias: z.enum(['none', 'all', 'lora_only']).default('none'),
    fan_in_fan_out: z.boolean().default(false),
    modules_to_save: z.array(z.string()).nullable().default(null),
    rank_pattern: z.record(z.string(), z.number().int().positive()).default({}),
    alpha_pattern: z.record(z.string(), z.number().positive()).default({}),
    layers_to_transform: z
      .union([z.array(z.number().int().nonnegative()), z.number().int().nonnegative()])
      .nullable()
      .default(null),
    use_dora: z.boolean().default(false),
  })
  .superRefine((config, context) => {
    if (typeof config.target_modules === 'string') {
      try {
        new RegExp(config.target_modules);
      } catch {
        context.addIssue({
          code: 'custom',
          path: ['target_modules'],
          message: 'is not a valid regular expression',
        });
      }
    }
    if (config.use_dora) {
      context.addIssue({ code: 'custom', path: ['use_dora'], message: 'DoRA adapters are not supported' });
    }
  });

export type PeftLoraConfig = z.infer<typeof peftLoraConfigSchema>;
export type PeftLoraConfigInput = z.input<typeof peftLoraConfigSchema>;

/** Parses a config object; failures become a ValidationError naming the field. */
export function parsePeftLoraConfig(value: unknown, source = 'adapter_config'): PeftLoraConfig {
  const result = peftLoraConfigSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`${source}.${issue.path.join('.') || '(root)'}`, issue.message, {
      cause: result.error,
    });
  }
  return result.data;
}

function patternKey(patterns: Readonly<Record<string, number>>, module: string): string | undefined {
  // PEFT's get_pattern_key: the first pattern matching the end of the module name at a dot boundary.
  for (const key of Object.keys(patterns)) {
    if (key === module) return key;
    try {
      if (new RegExp(`^(?:.*\\.)?(?:${key})$`).test(module)) return key;
    } catch {
      // not a valid regex: plain suffix comparison only
      if (module.endsWith(`.${key}`)) return key;
    }
  }
  return undefined;
}

export interface LoraModuleScale {
  readonly rank: number;
  readonly alpha: number;
  /** alpha / rank, or alpha / sqrt(rank) with use_rslora. */
  readonly scale: number;
}

/** Rank, alpha and scale of one module, honouring rank_pattern and alpha_pattern. */
export function loraModuleScale(config: PeftLoraConfig, module: string): LoraModuleScale {
  const rankKey = patternKey(config.rank_pattern, module);
  const alphaKey = patternKey(config.alpha_pattern, module);
  const rank = rankKey === undefined ? config.r : config.rank_pattern[rankKey]!;
  const alpha = alphaKey === undefined ? config.lora_alpha : config.alpha_pattern[alphaKey]!;
  const scale = config.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank;
  return { rank, alpha, scale };
}

/** Whether `target_modules` selects this module (list: name or dotted suffix; string: full regex). */
export function isTargetModule(config: PeftLoraConfig, module: string): boolean {
  const targets = config.target_modules;
  if (targets === null) return false;
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(module);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}
