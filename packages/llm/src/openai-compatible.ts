// An OpenAI-compatible HTTP client (OpenAI, vLLM, llama.cpp server, Ollama, apps/serve, ...):
// chat and text completions, SSE streaming, retries with backoff on 429/5xx/timeouts/network
// errors, a per-provider concurrency limit, a per-request timeout and the API key from the environment.
import { z } from 'zod';
import { ConcurrencyLimit } from './concurrency-limit';
import { APICallError, validationErrorFromZod } from './errors';
import type {
  ChatMessage,
  FinishReason,
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  StreamPart,
  Usage,
} from './language-model';
import {
  chatResponseSchema,
  completionResponseSchema,
  embeddingResponseSchema,
  finishReasonFromWire,
  streamChunkSchema,
  usageFromWire,
} from './openai-wire';
import { type RetryEvent, withRetries } from './retry';
import { readServerSentEvents } from './sse';

export const openAICompatibleOptionsSchema = z.object({
  /** e.g. 'https://api.openai.com/v1' or 'http://127.0.0.1:8080/v1'. */
  baseURL: z.url(),
  /** The API key; when absent it is read from `apiKeyEnvironmentVariable`; none is sent when neither is set. */
  apiKey: z.string().optional(),
  apiKeyEnvironmentVariable: z.string().default('OPENAI_API_KEY'),
  /** Prefix of model ids, e.g. 'openai' gives 'openai:gpt-4o'. */
  providerName: z.string().default('openai-compatible'),
  maxRetries: z.number().int().min(0).default(4),
  initialRetryDelayMs: z.number().min(0).default(1000),
  maxRetryDelayMs: z.number().min(0).default(30_000),
  /** Per request (each attempt), including reading a streamed body. */
  timeoutMs: z.number().positive().default(300_000),
  /** Requests in flight at once across all models of this provider. */
  concurrency: z.number().int().positive().default(4),
  headers: z.record(z.string(), z.string()).default({}),
  onRetry: z.custom<(event: RetryEvent) => void>((value) => typeof value === 'function').optional(),
});

export type OpenAICompatibleOptions = z.input<typeof openAICompatibleOptionsSchema>;
type ResolvedOptions = z.output<typeof openAICompatibleOptionsSchema>;

export type OpenAIEndpoint = 'chat' | 'completion';

export interface OpenAICompatibleProvider {
  /** A model served through /chat/completions (a plain `prompt` becomes one user message). */
  chat(model: string): LanguageModelV1;
  /** A model served through /completions (`messages` are joined into one prompt). */
  completion(model: string): LanguageModelV1;
  readonly concurrency: ConcurrencyLimit;
}

export function createOpenAICompatible(options: OpenAICompatibleOptions): OpenAICompatibleProvider {
  const parsed = openAICompatibleOptionsSchema.safeParse(options);
  if (!parsed.success) throw validationErrorFromZod('options', parsed.error.issues);
  const resolved = parsed.data;
  const concurrency = new ConcurrencyLimit(resolved.concurrency);
  return {
    chat: (model) => new OpenAICompatibleModel(model, 'chat', resolved, concurrency),
    completion: (model) => new OpenAICompatibleModel(model, 'completion', resolved, concurrency),
    concurrency,
  };
}

function chatMessages(input: LanguageModelInput): ChatMessage[] {
  return input.messages ?? [{ role: 'user', content: input.prompt ?? '' }];
}

function completionPrompt(input: LanguageModelInput): string {
  return input.prompt ?? (input.messages ?? []).map((message) => message.content).join('\n\n');
}

function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

class OpenAICompatibleModel implements LanguageModelV1 {
  readonly specificationVersion = 'v1' as const;
  readonly modelId: string;
  readonly #model: string;
  readonly #endpoint: OpenAIEndpoint;
  readonly #options: ResolvedOptions;
  readonly #concurrency: ConcurrencyLimit;

  constructor(
    model: string,
    endpoint: OpenAIEndpoint,
    options: ResolvedOptions,
    concurrency: ConcurrencyLimit,
  ) {
    this.#model = model;
    this.#endpoint = endpoint;
    this.#options = options;
    this.#concurrency = concurrency;
    this.modelId = `${options.providerName}:${model}`;
  }

  #url(path: string): string {
    return `${this.#options.baseURL.replace(/\/+$/, '')}${path}`;
  }

  #body(
    input: LanguageModelInput,
    parameters: GenerationParameters,
    stream: boolean,
  ): Record<string, unknown> {
    const body: Record<string, unknown> = { model: this.#model };
    if (this.#endpoint === 'chat') body.messages = chatMessages(input);
    else body.prompt = completionPrompt(input);
    if (parameters.maxTokens !== undefined) body.max_tokens = parameters.maxTokens;
    if (parameters.temperature !== undefined) body.temperature = parameters.temperature;
    if (parameters.topP !== undefined) body.top_p = parameters.topP;
    if (parameters.topK !== undefined) body.top_k = parameters.topK;
    if (parameters.seed !== undefined) body.seed = parameters.seed;
    if (parameters.stop !== undefined && parameters.stop.length > 0) body.stop = parameters.stop;
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  }

  /** POSTs with retries; resolves with an OK response whose body is still unread. */
  async #post(
    path: string,
    body: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<{ response: Response; timeout: AbortSignal }> {
    const url = this.#url(path);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.#options.headers };
    const apiKey = this.#options.apiKey ?? process.env[this.#options.apiKeyEnvironmentVariable];
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const policy = {
      maxRetries: this.#options.maxRetries,
      initialDelayMs: this.#options.initialRetryDelayMs,
      maxDelayMs: this.#options.maxRetryDelayMs,
    };
    return withRetries(
      policy,
      async () => {
        const timeout = AbortSignal.timeout(this.#options.timeoutMs);
        const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
        let response: Response;
        try {
          response = await fetch(url, {
            method: 'POST',
            headers,
            body: JSON.stringify(body),
            signal: combined,
          });
        } catch (error) {
          if (signal?.aborted) throw error;
          const timedOut = timeout.aborted;
          throw new APICallError(
            url,
            undefined,
            timedOut ? `timed out after ${this.#options.timeoutMs} ms` : `${error}`,
            {
              retryable: true,
              cause: error,
            },
          );
        }
        if (!response.ok) {
          const responseBody = await response.text().catch(() => '');
          throw new APICallError(url, response.status, responseBody.slice(0, 500) || response.statusText, {
            retryable:
              response.status === 408 ||
              response.status === 409 ||
              response.status === 429 ||
              response.status >= 500,
            responseBody,
            retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
          });
        }
        return { response, timeout };
      },
      { signal, onRetry: this.#options.onRetry },
    );
  }

  async #readJson(response: Response, url: string): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new APICallError(url, response.status, 'response is not JSON', {
        retryable: false,
        responseBody: text,
        cause: error,
      });
    }
  }

  async doGenerate(
    input: LanguageModelInput,
    parameters: GenerationParameters = {},
  ): Promise<GenerateResult> {
    const path = this.#endpoint === 'chat' ? '/chat/completions' : '/completions';
    return this.#concurrency.run(async () => {
      const { response } = await this.#post(path, this.#body(input, parameters, false), parameters.signal);
      const json = await this.#readJson(response, this.#url(path));
      if (this.#endpoint === 'chat') {
        const parsed = chatResponseSchema.safeParse(json);
        if (!parsed.success) throw validationErrorFromZod('response', parsed.error.issues);
        const choice = parsed.data.choices[0];
        return {
          text: choice.message.content ?? '',
          finishReason: finishReasonFromWire(choice.finish_reason),
          usage: usageFromWire(parsed.data.usage),
        };
      }
      const parsed = completionResponseSchema.safeParse(json);
      if (!parsed.success) throw validationErrorFromZod('response', parsed.error.issues);
      const choice = parsed.data.choices[0];
      return {
        text: choice.text,
        finishReason: finishReasonFromWire(choice.finish_reason),
        usage: usageFromWire(parsed.data.usage),
      };
    });
  }

  async *doStream(
    input: LanguageModelInput,
    parameters: GenerationParameters = {},
  ): AsyncGenerator<StreamPart> {
    const path = this.#endpoint === 'chat' ? '/chat/completions' : '/completions';
    await this.#concurrency.acquire();
    try {
      const { response } = await this.#post(path, this.#body(input, parameters, true), parameters.signal);
      if (response.body === null)
        throw new APICallError(this.#url(path), response.status, 'empty body', { retryable: false });
      let finishReason: FinishReason = 'stop';
      let usage: Usage = { promptTokens: 0, completionTokens: 0 };
      for await (const data of readServerSentEvents(response.body)) {
        if (data.trim() === '[DONE]') break;
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch (error) {
          throw new APICallError(
            this.#url(path),
            response.status,
            `stream event is not JSON: ${data.slice(0, 200)}`,
            {
              retryable: false,
              cause: error,
            },
          );
        }
        const parsed = streamChunkSchema.safeParse(json);
        if (!parsed.success) throw validationErrorFromZod('stream', parsed.error.issues);
        if (parsed.data.usage) usage = usageFromWire(parsed.data.usage);
        for (const choice of parsed.data.choices) {
          const text = choice.delta?.content ?? choice.text ?? '';
          if (text.length > 0) yield { type: 'text-delta', text };
          if (choice.finish_reason) finishReason = finishReasonFromWire(choice.finish_reason);
        }
      }
      yield { type: 'finish', finishReason, usage };
    } finally {
      this.#concurrency.release();
    }
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return this.#concurrency.run(async () => {
      const { response } = await this.#post('/embeddings', { model: this.#model, input: texts }, undefined);
      const parsed = embeddingResponseSchema.safeParse(
        await this.#readJson(response, this.#url('/embeddings')),
      );
      if (!parsed.success) throw validationErrorFromZod('response', parsed.error.issues);
      const ordered = [...parsed.data.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      return ordered.map((item) => Float32Array.from(item.embedding));
    });
  }
}
