// Learning-rate schedules as declarations (transformers' get_*_schedule_with_warmup).
import { z } from 'zod';

export const scheduleNames = ['cosine', 'linear', 'constant'] as const;
export type ScheduleName = (typeof scheduleNames)[number];

export const scheduleOptionsSchema = z.object({
  name: z.enum(scheduleNames).default('cosine'),
  warmupSteps: z.number().int().min(0).default(0),
  totalSteps: z.number().int().positive(),
});
export type ScheduleOptions = z.output<typeof scheduleOptionsSchema>;

/**
 * The multiplier of the peak learning rate for optimizer step `step` (0-based, before the update),
 * exactly as transformers' LambdaLR schedules compute it.
 */
export function learningRateFactor(options: ScheduleOptions, step: number): number {
  const { name, warmupSteps, totalSteps } = options;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (name === 'constant') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (name === 'linear') return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}
