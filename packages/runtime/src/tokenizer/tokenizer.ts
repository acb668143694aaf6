// The tokenizer contract the runtime uses, whatever file the vocabulary came from.

/** Turns a stream of token ids back into text, one token at a time. */
export interface StreamingDecoder {
  /** Text that became complete with this token (may be '' while a UTF-8 character is incomplete). */
  push(token: number): string;
  /** Whatever is still pending. */
  flush(): string;
}

export interface Tokenizer {
  readonly kind: 'sentencepiece-bpe' | 'huggingface';
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  /** Whether encode() prepends BOS by default (llama2.c and Llama SentencePiece: yes). */
  readonly addBosByDefault: boolean;
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(tokens: readonly number[]): string;
  /** A decoder for a stream that continues after `previous` (e.g. the prompt's last token). */
  createDecoder(previous?: number): StreamingDecoder;
  /** The piece of one token as text (for inspection). */
  piece(token: number): string;
}
