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

/** What a HOMER prefill did, reported in usage.meld.long_context. */
export interface LongContextStats {
  method: 'homer';
  /** Tokens read (prefix + context + suffix). */
  input_tokens: number;
  /** Tokens the merged cache kept. */
  kept_tokens: number;
  /** Peak bytes of the prefill (hidden states, KV and buffers). */
  prefill_peak_bytes: number;
  warnings: string[];
}

/** The `meld.long_context` field: the prompt is the long context, prefix and suffix shared by chunks. */
export interface LongContextRequest {
  method: 'homer';
  text: string;
  /** Instruction every chunk starts with (after BOS). */
  prefix?: string;
  /** The tail every chunk ends with and the model continues; default the text's last sentence. */
  suffix?: string;
}

/** A long-context input tokenized and checked, ready to start sequences from. */
export interface PreparedLongContext {
  readonly request: LongContextRequest;
  /** prefix + context + suffix tokens. */
  readonly inputTokens: number;
  /** The input's last token (the completion is decoded after it). */
  readonly lastToken: number;
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
  /** For long-context sequences, once the prefill ran. */
  longContext?(): LongContextStats | undefined;
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
  /**
   * Long inputs by context merging (HOMER); absent when the engine has none. Room is the number of
   * tokens that can be generated after the merged prefix.
   */
  readonly longContext?: {
    readonly room: number;
    /** Tokenizes and checks the input (ValidationError naming the field). */
    prepare(request: LongContextRequest): PreparedLongContext;
    start(prepared: PreparedLongContext, sampling: SamplingOptions, kvCache?: KVCacheChoice): EngineSequence;
  };
  /** Mean-pooled final hidden states of `tokens`. */
  embed(tokens: readonly number[]): Promise<Float32Array>;
}
