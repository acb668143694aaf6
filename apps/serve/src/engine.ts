// What the server needs from a loaded model. runtime-engine.ts implements it over @meld/runtime;
// the HTTP layer and the scheduler only ever see this contract.

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Sampling of one sequence. temperature 0 is greedy decoding. */
export interface SamplingOptions {
  temperature: number;
  topP: number;
  seed: number | undefined;
  /** Report the chosen token's log-probability. */
  logprobs: boolean;
  /** How many most likely alternatives to report per step (0 = none). */
  topLogprobs: number;
}

/** The per-request KV-cache choice (the `meld.kv_cache` field), validated by the engine. */
export interface KVCacheChoice {
  policy: string;
  budget?: number | string;
  params?: Record<string, unknown>;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** Incremental detokenizer: `push` returns the text a token completes ('' inside a UTF-8 character). */
export interface TokenDecoder {
  push(token: number): string;
  flush(): string;
}

/** One decoded token. */
export interface TokenStep {
  token: number;
  /** log p(token), when SamplingOptions.logprobs. */
  logprob?: number;
  /** The most likely alternatives, highest first, when topLogprobs > 0. */
  topLogprobs?: TokenLogprob[];
}

/** One generating sequence with its own KV cache. The scheduler calls `next` once per tick. */
export interface EngineSequence {
  /** Runs the prompt on the first call, then decodes one token per call; null once the model ends. */
  next(): Promise<TokenStep | null>;
  /** Bytes the sequence's KV cache holds now. */
  kvBytes(): number;
  /** Highest bytes the sequence's KV cache held. */
  peakKvBytes(): number;
  /** Frees the cache; the sequence is not used afterwards. */
  close(): void;
}

export interface ServeEngineV1 {
  readonly specificationVersion: 'v1';
  /** Positions the model was trained for; prompt + completion may not exceed it. */
  readonly contextLength: number;
  /** 'model' when the tokenizer config carried a chat template, 'plain' for the documented fallback. */
  readonly chatTemplate: 'model' | 'plain';
  /** The cache used for requests that name none (undefined: the full cache). */
  readonly defaultKVCache?: KVCacheChoice;
  /** Names of the KV-cache policies a request may pick. */
  readonly kvPolicies: readonly string[];
  /** Tokens in the vocabulary; ids are 0 .. vocabularySize - 1. */
  readonly vocabularySize: number;
  /** Hidden size (the length of an embedding). */
  readonly embeddingSize: number;

  tokenize(text: string, options: { addSpecialTokens: boolean }): number[];
  /** Text of a token sequence (special tokens skipped). */
  detokenize(tokens: readonly number[]): string;
  /** Decodes a token stream continuing after `previous` (the prompt's last token), one token at a time. */
  createDecoder(previous: number | undefined): TokenDecoder;
  /** The vocabulary piece of one token, as logprobs report it. */
  tokenPiece(token: number): string;
  /**
   * Prompt tokens of a chat, ending where the assistant's reply starts: the tokenizer's chat template
   * when it has one, else the plain transcript `role: content` per line followed by `assistant:`.
   */
  encodeChat(messages: readonly ChatTurn[]): number[];
  /** Throws a ValidationError naming the field when the choice is invalid. */
  validateKVCache(choice: KVCacheChoice): void;
  startSequence(
    prompt: readonly number[],
    sampling: SamplingOptions,
    kvCache?: KVCacheChoice,
  ): EngineSequence;
  /** Mean-pooled final hidden states of `tokens`. */
  embed(tokens: readonly number[]): Promise<Float32Array>;
}
