// Rules shared by both workflows (summ.py): what counts as a valid summary and how limits round.
import type { LanguageModelV1 } from '@meld/llm';
import type { TokenCounterV1 } from './token-counter';

const endings = new Set(['.', '?', '!', '"', "'"]);

export function endsLikeSentence(text: string): boolean {
  return text.length > 0 && endings.has(text[text.length - 1]);
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const difference = value - floor;
  if (difference > 0.5) return floor + 1;
  if (difference < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}

export interface WorkflowContext {
  model: LanguageModelV1;
  counter: TokenCounterV1;
  signal?: AbortSignal;
}

/** One model call: the prompt as a single user message; the answer trimmed. */
export async function complete(
  context: WorkflowContext,
  prompt: string,
  parameters: { maxTokens: number; temperature: number; cacheKey?: string },
): Promise<string> {
  const result = await context.model.doGenerate(
    { messages: [{ role: 'user', content: prompt }] },
    { ...parameters, signal: context.signal },
  );
  return result.text.trim();
}
