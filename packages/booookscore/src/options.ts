import { LLMValidationError } from '@meld/llm';
import type { z } from 'zod';

/** Parses an options object, turning the first zod issue into a ValidationError naming the field. */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  options: unknown,
  root = 'options',
): z.output<T> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new LLMValidationError([root, ...issue.path.map(String)].join('.'), issue.message);
}
