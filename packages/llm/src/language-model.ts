// The LanguageModel contract: one shape for remote OpenAI-compatible endpoints and for local
// models run by @meld/runtime, so workflows (BooookScore, COMBO, soups) do not care which.

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

export interface GenerationParameters {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  /** Cancels the call. */
  signal?: AbortSignal;
  /**
   * Extra text mixed into a call cache's key (models ignore it): a deliberate repeat of the same
   * call, such as a re-query after an invalid answer, sets it (e.g. 'retry-1') so it is not answered
   * from the cache.
   */
  cacheKey?: string;
}

/** Either a chat (messages) or a plain completion (prompt). */
export type LanguageModelInput =
  | { messages: ChatMessage[]; prompt?: never }
  | { prompt: string; messages?: never };

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

export type StreamPart =
  | { type: 'text-delta'; text: string }
  | { type: 'finish'; finishReason: FinishReason; usage: Usage };

export interface LanguageModelV1 {
  readonly specificationVersion: 'v1';
  /** Provider-qualified id, e.g. 'openai:gpt-4o' or 'local:stories260K'. */
  readonly modelId: string;
  doGenerate(input: LanguageModelInput, parameters?: GenerationParameters): Promise<GenerateResult>;
  doStream(input: LanguageModelInput, parameters?: GenerationParameters): AsyncIterable<StreamPart>;
  /** Tokens the model's own tokenizer counts in `text`, when it can. */
  countTokens?(text: string): Promise<number>;
  /** One embedding vector per text, when the model offers them. */
  embed?(texts: string[]): Promise<Float32Array[]>;
}
