// Builds the summariser and annotator models: an OpenAI-compatible endpoint (--base-url + --model
// NAME) or a local model file through @meld/runtime (--model PATH), imported only when used.
import { createOpenAICompatible, type LanguageModelV1, LLMValidationError, type RetryEvent } from '@meld/llm';

export interface RemoteModelSettings {
  baseURL: string;
  model: string;
  endpoint: 'chat' | 'completion';
  apiKeyEnvironmentVariable: string;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  onRetry?: (event: RetryEvent) => void;
}

export function remoteModel(settings: RemoteModelSettings): LanguageModelV1 {
  const provider = createOpenAICompatible({
    baseURL: settings.baseURL,
    apiKeyEnvironmentVariable: settings.apiKeyEnvironmentVariable,
    providerName: 'openai-compatible',
    concurrency: settings.concurrency,
    timeoutMs: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    ...(settings.onRetry ? { onRetry: settings.onRetry } : {}),
  });
  return settings.endpoint === 'chat' ? provider.chat(settings.model) : provider.completion(settings.model);
}

function isLanguageModelV1(value: unknown): value is LanguageModelV1 {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof LanguageModelV1, unknown>>;
  return candidate.specificationVersion === 'v1' && typeof candidate.doGenerate === 'function';
}

/** What this app uses of @meld/runtime, checked at run time (the import is lazy and untyped). */
interface RuntimeModule {
  loadModel(source: string): Promise<unknown>;
  LocalLanguageModel: new (model: unknown) => unknown;
}

/** A local model file (llama2.c .bin, GGUF, a Hugging Face folder) run by @meld/runtime. */
export async function localModel(path: string): Promise<LanguageModelV1> {
  // A variable specifier keeps the (heavy) runtime out of the bundle and out of remote-only runs.
  const specifier = '@meld/runtime';
  const runtime: Partial<RuntimeModule> = await import(specifier);
  const { loadModel, LocalLanguageModel } = runtime;
  if (typeof loadModel !== 'function' || typeof LocalLanguageModel !== 'function') {
    throw new LLMValidationError(
      '--model',
      `running a local model (${path}) needs loadModel and LocalLanguageModel from @meld/runtime, which this build does not have; use --base-url with an OpenAI-compatible server (e.g. meld-serve) instead`,
    );
  }
  const loaded = await loadModel(path);
  const model: unknown = new LocalLanguageModel(loaded);
  if (!isLanguageModelV1(model))
    throw new LLMValidationError('--model', `${path}: @meld/runtime did not return a LanguageModelV1`);
  return model;
}
