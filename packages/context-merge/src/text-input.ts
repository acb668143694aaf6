// From text to HOMER's three parts: prefix (BOS + instruction), context, suffix (by default the
// input's last sentence, the tail the model continues).
import type { Model } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import type { HomerInput } from './homer';

/** Splits off the last sentence (after the last ., ! or ? followed by whitespace, before the end). */
export function splitLastSentence(text: string): { readonly context: string; readonly suffix: string } {
  const trimmed = text.replace(/\s+$/u, '');
  const pattern = /[.!?]["')\]]*\s+/gu;
  let cut = -1;
  for (const match of trimmed.matchAll(pattern)) {
    const end = (match.index ?? 0) + match[0].length;
    if (end < trimmed.length) cut = end;
  }
  if (cut <= 0) return { context: '', suffix: trimmed };
  return { context: trimmed.slice(0, cut).replace(/\s+$/u, ''), suffix: trimmed.slice(cut) };
}

export interface TextInputOptions {
  /** Instruction shared by every chunk (after BOS). */
  readonly prefix?: string;
  /** The tail to continue or question; default: the input's last sentence (cut from the context). */
  readonly suffix?: string;
}

/** Tokens for homerPrefill: prefix = BOS (when the model has one) + prefix text, context, suffix. */
export function homerInputFromText(model: Model, text: string, options: TextInputOptions = {}): HomerInput {
  let contextText = text;
  let suffixText = options.suffix;
  if (suffixText === undefined) {
    const split = splitLastSentence(text);
    contextText = split.context;
    suffixText = split.suffix;
  }
  const bos = model.config.bosTokenId;
  const prefix = [
    ...(bos === undefined ? [] : [bos]),
    ...(options.prefix ? model.encode(options.prefix, { addBos: false }) : []),
  ];
  const suffix = suffixText.length > 0 ? model.encode(suffixText, { addBos: false }) : [];
  const context = contextText.length > 0 ? model.encode(contextText, { addBos: false }) : [];
  if (suffix.length === 0) throw new ValidationError('suffix', 'HOMER needs a non-empty suffix');
  if (context.length === 0) throw new ValidationError('text', 'no context left after taking the suffix');
  return { prefix, context, suffix };
}
