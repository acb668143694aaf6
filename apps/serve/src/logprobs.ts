// Log-probabilities in OpenAI's two shapes: the legacy completions shape (parallel arrays) and the
// chat shape (one object per token with UTF-8 bytes).
import type { ServeEngineV1, TokenStep } from './engine';

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Array<Record<string, number>> | null;
  text_offset: number[];
}

export function completionLogprobs(
  engine: ServeEngineV1,
  steps: readonly TokenStep[],
  startOffset: number,
  withTop: boolean,
): CompletionLogprobs {
  const out: CompletionLogprobs = {
    tokens: [],
    token_logprobs: [],
    top_logprobs: withTop ? [] : null,
    text_offset: [],
  };
  let offset = startOffset;
  for (const step of steps) {
    const piece = engine.tokenPiece(step.token);
    out.tokens.push(piece);
    out.token_logprobs.push(step.logprob ?? 0);
    out.text_offset.push(offset);
    offset += piece.length;
    if (out.top_logprobs) {
      const top: Record<string, number> = {};
      for (const alternative of step.topLogprobs ?? []) {
        const key = engine.tokenPiece(alternative.token);
        if (!(key in top)) top[key] = alternative.logprob;
      }
      out.top_logprobs.push(top);
    }
  }
  return out;
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
}

export function chatLogprobs(
  engine: ServeEngineV1,
  steps: readonly TokenStep[],
): { content: ChatTokenLogprob[]; refusal: null } {
  const bytes = (text: string) => [...Buffer.from(text, 'utf8')];
  return {
    content: steps.map((step) => {
      const token = engine.tokenPiece(step.token);
      return {
        token,
        logprob: step.logprob ?? 0,
        bytes: bytes(token),
        top_logprobs: (step.topLogprobs ?? []).map((alternative) => {
          const piece = engine.tokenPiece(alternative.token);
          return { token: piece, logprob: alternative.logprob, bytes: bytes(piece) };
        }),
      };
    }),
    refusal: null,
  };
}
