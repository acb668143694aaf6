// The parts of the OpenAI HTTP wire format we read, validated with zod (extra fields allowed).
import { z } from 'zod';
import type { FinishReason, Usage } from './language-model';

const usageSchema = z
  .object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
  .loose()
  .nullish();

export const chatResponseSchema = z
  .object({
    choices: z
      .array(
        z
          .object({
            message: z.object({ content: z.string().nullish() }).loose(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .min(1),
    usage: usageSchema,
  })
  .loose();

export const completionResponseSchema = z
  .object({
    choices: z.array(z.object({ text: z.string(), finish_reason: z.string().nullish() }).loose()).min(1),
    usage: usageSchema,
  })
  .loose();

export const streamChunkSchema = z
  .object({
    choices: z
      .array(
        z
          .object({
            delta: z.object({ content: z.string().nullish() }).loose().optional(),
            text: z.string().nullish(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .default([]),
    usage: usageSchema,
  })
  .loose();

export const embeddingResponseSchema = z
  .object({
    data: z.array(z.object({ embedding: z.array(z.number()), index: z.number().optional() }).loose()),
  })
  .loose();

export function usageFromWire(usage: z.infer<typeof usageSchema>): Usage {
  return { promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0 };
}

export function finishReasonFromWire(reason: string | null | undefined): FinishReason {
  if (reason === 'length') return 'length';
  if (reason === 'content_filter') return 'error';
  return 'stop';
}
