// convertModel: a loaded model written as an HF folder or a GGUF file.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { Model } from '../model';
import { writeGgufModel } from './write-gguf';
import { writeHfFolder } from './write-hf';

export const convertOptionsSchema = z
  .object({
    to: z.enum(['hf', 'gguf']),
    dtype: z.enum(['f32', 'f16', 'bf16', 'q8_0']).default('f32'),
  })
  .superRefine((value, context) => {
    if (value.to === 'hf' && value.dtype === 'q8_0') {
      context.addIssue({
        code: 'custom',
        path: ['dtype'],
        message: 'safetensors has no q8_0; use f32, f16 or bf16',
      });
    }
    if (value.to === 'gguf' && value.dtype === 'bf16') {
      context.addIssue({ code: 'custom', path: ['dtype'], message: 'GGUF output takes f32, f16 or q8_0' });
    }
  });

export type ConvertOptions = z.input<typeof convertOptionsSchema>;

/** Writes `model` to `out` (a folder for hf, a file for gguf); returns warnings. */
export function convertModel(model: Model, out: string, options: ConvertOptions): { warnings: string[] } {
  const parsed = convertOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const { to, dtype } = parsed.data;
  if (to === 'hf') {
    writeHfFolder(model, out, { dtype: dtype as 'f32' | 'f16' | 'bf16' });
    return { warnings: [] };
  }
  return writeGgufModel(model, out, { dtype: dtype as 'f32' | 'f16' | 'q8_0' });
}
