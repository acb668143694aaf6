// Token counting: cl100k_base through js-tiktoken (as the paper, ranks bundled, no network), or the
// summarising model's own tokenizer through LanguageModelV1.countTokens.
import type { LanguageModelV1 } from '@meld/llm';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

export interface TokenCounterV1 {
  readonly specificationVersion: 'v1';
  readonly name: string;
  count(text: string): Promise<number>;
  /**
   * True when count(a + '\n' + b) = count(a + '\n') + count(b) for any line b (no token crosses a
   * newline that starts a line): lets the chunker count incrementally. False or absent: it recounts.
   */
  readonly additiveOverNewlines?: boolean;
  /** The longest prefix of `text` with at most `maxTokens` tokens. */
  truncate(text: string, maxTokens: number): Promise<string>;
}

let cl100k: Tiktoken | undefined;

function encoding(): Tiktoken {
  cl100k ??= new Tiktoken(cl100kBase);
  return cl100k;
}

/** Synchronous cl100k count (the chunker uses it directly on whole books). */
export function countCl100k(text: string): number {
  return encoding().encode(text, 'all').length;
}

export const cl100kCounter: TokenCounterV1 = {
  specificationVersion: 'v1',
  name: 'cl100k_base',
  additiveOverNewlines: true,
  count: async (text) => countCl100k(text),
  truncate: async (text, maxTokens) => {
    const tokens = encoding().encode(text, 'all');
    return tokens.length <= maxTokens ? text : encoding().decode(tokens.slice(0, Math.max(0, maxTokens)));
  },
};

/** Counts with the model's own tokenizer; truncation searches the longest fitting word prefix. */
export function modelTokenCounter(model: LanguageModelV1): TokenCounterV1 {
  const countTokens = model.countTokens?.bind(model);
  if (!countTokens) return cl100kCounter;
  return {
    specificationVersion: 'v1',
    name: `${model.modelId} tokenizer`,
    count: countTokens,
    truncate: async (text, maxTokens) => {
      if ((await countTokens(text)) <= maxTokens) return text;
      const cuts = [...text.matchAll(/\s+/g)].map((match) => match.index ?? 0);
      let low = 0;
      let high = cuts.length - 1;
      let best = '';
      while (low <= high) {
        const middle = (low + high) >> 1;
        const prefix = text.slice(0, cuts[middle]);
        if ((await countTokens(prefix)) <= maxTokens) {
          best = prefix;
          low = middle + 1;
        } else high = middle - 1;
      }
      return best;
    },
  };
}
