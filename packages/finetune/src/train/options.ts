// Fine-tuning options (zod-validated; defaults follow Platypus where it sets them: r=16, α=16,
// dropout 0.05, lr 3e-4 with cosine decay).
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import { loraConfigSchema } from '../lora/lora-config';
import { scheduleNames } from '../optim/schedule';

export const finetuneOptionsSchema = z
  .object({
    /** Where the adapter, checkpoints, loss curve and trainer state are written. */
    outputDir: z.string().min(1),
    lora: loraConfigSchema.prefault({}),
    epochs: z.number().positive().default(1),
    learningRate: z.number().positive().default(3e-4),
    /** Sequences per micro-batch. */
    batchSize: z.number().int().positive().default(4),
    gradientAccumulation: z.number().int().positive().default(1),
    /** Tokens per training sequence (input positions). */
    seqLen: z.number().int().min(2).default(256),
    schedule: z.enum(scheduleNames).default('cosine'),
    /** Warm-up steps; default: warmupRatio of the total. */
    warmupSteps: z.number().int().min(0).optional(),
    warmupRatio: z.number().min(0).max(1).default(0.03),
    weightDecay: z.number().min(0).default(0),
    /** Global gradient-norm clip (0 turns it off). */
    maxGradNorm: z.number().min(0).default(1),
    seed: z.number().int().default(42),
    /** Save OUT/checkpoint-STEP every N optimizer steps (0: never). */
    saveEvery: z.number().int().min(0).default(0),
    /** Stop after this many optimizer steps (the schedule still spans all epochs). */
    maxSteps: z.number().int().positive().optional(),
    /** Prompt template name: alpaca, chatml or plain. */
    template: z.string().default('alpaca'),
    packing: z.boolean().default(true),
    /** Continue from OUT's latest checkpoint when there is one. */
    resume: z.boolean().default(false),
    /** Recorded as base_model_name_or_path in adapter_config.json. */
    baseModel: z.string().optional(),
  })
  .superRefine((options, context) => {
    if (options.seqLen < 2)
      context.addIssue({ code: 'custom', path: ['seqLen'], message: 'must be at least 2' });
  });

export type FinetuneOptionsInput = z.input<typeof finetuneOptionsSchema>;
export type FinetuneOptions = z.output<typeof finetuneOptionsSchema>;

export function parseFinetuneOptions(input: FinetuneOptionsInput): FinetuneOptions {
  const result = finetuneOptionsSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ValidationError(`options.${issue.path.join('.')}`, issue.message, { cause: result.error });
  }
  return result.data;
}
