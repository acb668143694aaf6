// Rendered segments → token ids with a per-token loss weight (1 = the model learns to predict it).
// As alpaca-lora and Platypus do, the whole text is tokenized once and the prompt's token count comes
// from tokenizing the prompt alone, so token merges across the boundary match inference.
import type { TextSegment } from './templates';

/** What training needs from a tokenizer; @meld/runtime's Tokenizer satisfies it. */
export interface TrainingTokenizer {
  encode(text: string, options?: { addBos?: boolean }): number[];
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
}

export interface EncodedExample {
  tokens: Int32Array;
  /** weights[i]: whether predicting tokens[i] (from tokens[..i-1]) counts in the loss; weights[0] = 0. */
  weights: Uint8Array;
}

export interface EncodeOptions {
  /** Append the EOS token (trained when the last segment is). Default true. */
  addEos?: boolean;
}

export function encodeSegments(
  segments: readonly TextSegment[],
  tokenizer: TrainingTokenizer,
  options: EncodeOptions = {},
): EncodedExample {
  const fullText = segments.map((s) => s.text).join('');
  const body = tokenizer.encode(fullText, { addBos: false });
  const boundaries: number[] = [];
  let prefix = '';
  for (let k = 0; k < segments.length; k++) {
    boundaries.push(k === 0 ? 0 : Math.min(body.length, tokenizer.encode(prefix, { addBos: false }).length));
    prefix += segments[k].text;
  }
  const tokens: number[] = [];
  const weights: number[] = [];
  if (tokenizer.bosTokenId !== undefined) {
    tokens.push(tokenizer.bosTokenId);
    weights.push(0);
  }
  let segment = 0;
  for (let j = 0; j < body.length; j++) {
    while (segment + 1 < segments.length && boundaries[segment + 1] <= j) segment++;
    tokens.push(body[j]);
    weights.push(segments[segment].train ? 1 : 0);
  }
  if ((options.addEos ?? true) && tokenizer.eosTokenId !== undefined) {
    tokens.push(tokenizer.eosTokenId);
    weights.push(segments.length > 0 && segments[segments.length - 1].train ? 1 : 0);
  }
  return { tokens: Int32Array.from(tokens), weights: Uint8Array.from(weights) };
}
