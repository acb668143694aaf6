// mergekit's YAML merge configuration (mergekit/config.py), validated with zod.
// Exactly one of `models` / `slices`. Parameter values: a scalar, a list of numbers (a gradient
// interpolated over the layers of a slice), or a list of {filter, value} (first substring match
// wins; an entry without a filter matches everything).
import { z } from 'zod';

export const scalarSchema = z.union([z.number().finite(), z.boolean(), z.string()]);
export const gradientSchema = z.array(z.number().finite()).min(1);
export const conditionalParameterSchema = z.strictObject({
  filter: z.string().optional(),
  value: z.union([scalarSchema, gradientSchema]),
});
export const parameterSettingSchema = z.union([
  scalarSchema,
  gradientSchema,
  z.array(conditionalParameterSchema).min(1),
]);
export type ParameterSetting = z.infer<typeof parameterSettingSchema>;
export const parametersSchema = z.record(z.string(), parameterSettingSchema);
export type ParameterSettings = z.infer<typeof parametersSchema>;

const modelReference = z.string().min(1);

export const inputModelSchema = z.strictObject({
  model: modelReference,
  parameters: parametersSchema.optional(),
});

export const sliceSourceSchema = z.strictObject({
  model: modelReference,
  layer_range: z.tuple([z.number().int().min(0), z.number().int().min(0)]).refine(([a, b]) => b > a, {
    message: 'layer_range [start, end) needs end > start',
  }),
  parameters: parametersSchema.optional(),
});

export const sliceSchema = z.strictObject({
  sources: z.array(sliceSourceSchema).min(1),
  base_model: modelReference.optional(),
  parameters: parametersSchema.optional(),
  merge_method: z.string().optional(),
});

export const dtypeNameSchema = z.enum(['float32', 'float16', 'bfloat16', 'fp32', 'fp16', 'bf16']);

export const tokenizerSchema = z.strictObject({
  source: z.string(),
  tokens: z.record(z.string(), z.unknown()).optional(),
  pad_to_multiple_of: z.number().int().positive().optional(),
});

export const mergeConfigSchema = z
  .strictObject({
    merge_method: z.string().min(1),
    base_model: modelReference.optional(),
    models: z.array(inputModelSchema).min(1).optional(),
    slices: z.array(sliceSchema).min(1).optional(),
    parameters: parametersSchema.optional(),
    dtype: dtypeNameSchema.optional(),
    out_dtype: dtypeNameSchema.optional(),
    tokenizer_source: z.string().optional(),
    tokenizer: tokenizerSchema.optional(),
    chat_template: z.string().optional(),
    name: z.string().optional(),
    /** What to do with an input tensor that no rule covers (meld extension; mergekit drops it). */
    unmatched: z.enum(['error', 'copy_base', 'drop']).default('error'),
    /** Seed for DARE/DELLA masks (meld extension; mergekit takes --random-seed). */
    random_seed: z.number().int().min(0).optional(),
  })
  .superRefine((config, context) => {
    if ((config.models === undefined) === (config.slices === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['models'],
        message: 'give exactly one of `models` or `slices`',
      });
    }
    if (config.tokenizer_source !== undefined && config.tokenizer !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['tokenizer'],
        message: 'give `tokenizer` or the legacy `tokenizer_source`, not both',
      });
    }
    for (const [index, slice] of (config.slices ?? []).entries()) {
      const lengths = slice.sources.map((s) => s.layer_range[1] - s.layer_range[0]);
      if (lengths.some((length) => length !== lengths[0])) {
        context.addIssue({
          code: 'custom',
          path: ['slices', index, 'sources'],
          message: `every source of a slice needs the same number of layers, got ${lengths.join(', ')}`,
        });
      }
    }
  });

export type MergeConfig = z.output<typeof mergeConfigSchema>;
export type MergeConfigInput = z.input<typeof mergeConfigSchema>;
