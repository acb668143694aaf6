// The part of /v1/completions and /v1/chat/completions that is the same: checking the meld extension,
// token limits, planning the n choices per prompt, submitting them to the scheduler and the usage block.

import type { RouteContext, ServedModel } from '../context';
import type {
  KVCacheChoice,
  LongContextStats,
  PreparedLongContext,
  SamplingOptions,
  ServeEngineV1,
} from '../engine';
import { badRequest, HttpError } from '../errors';
import { type GenerationDelta, type GenerationResult, GenerationTask } from '../generation-task';
import { QueueFullError, SchedulerClosedError, type SchedulerTask } from '../scheduler';
import type { MeldExtension } from '../schemas';

export interface MeldChoices {
  kvCache: KVCacheChoice | undefined;
  longContext: { prefix?: string; suffix?: string } | undefined;
}

/** Validates the `meld` field: the KV-cache choice (the model's default when none) and long context. */
export function checkMeldExtension(engine: ServeEngineV1, meld: MeldExtension | undefined): MeldChoices {
  let longContext: MeldChoices['longContext'];
  if (meld?.long_context) {
    if (!engine.longContext) {
      throw badRequest(
        'meld.long_context (HOMER) is not supported by the engine serving this model',
        'meld.long_context',
        'not_implemented',
      );
    }
    const { prefix, suffix } = meld.long_context;
    longContext = {
      ...(prefix === undefined ? {} : { prefix }),
      ...(suffix === undefined ? {} : { suffix }),
    };
  }
  if (meld?.soup !== undefined) {
    throw badRequest('meld.soup is not implemented in this server build', 'meld.soup', 'not_implemented');
  }
  if (!meld?.kv_cache) return { kvCache: engine.defaultKVCache, longContext };
  const choice: KVCacheChoice = { policy: meld.kv_cache.policy };
  if (meld.kv_cache.budget !== undefined) choice.budget = meld.kv_cache.budget;
  if (meld.kv_cache.params !== undefined) choice.params = meld.kv_cache.params;
  if (!engine.kvPolicies.includes(choice.policy)) {
    throw badRequest(
      `meld.kv_cache.policy: unknown policy '${choice.policy}'; one of ${engine.kvPolicies.join(', ')}`,
      'meld.kv_cache.policy',
      'invalid_value',
    );
  }
  try {
    engine.validateKVCache(choice);
  } catch (error) {
    const path = typeof error === 'object' && error !== null && 'path' in error ? String(error.path) : '';
    const message = error instanceof Error ? error.message : String(error);
    const param = path.startsWith('meld.') ? path : `meld.kv_cache${path ? `.${path}` : ''}`;
    throw badRequest(message.startsWith(param) ? message : `${param}: ${message}`, param, 'invalid_value');
  }
  return { kvCache: choice, longContext };
}

export function checkTokenIds(engine: ServeEngineV1, tokens: readonly number[], param: string): void {
  for (const token of tokens) {
    if (token >= engine.vocabularySize) {
      throw badRequest(
        `${param}: token id ${token} is outside the vocabulary (${engine.vocabularySize})`,
        param,
      );
    }
  }
}

/** max_tokens for one prompt: the request's value checked against the context, or what remains of it. */
export function resolveMaxTokens(
  context: RouteContext,
  model: ServedModel,
  promptLength: number,
  requested: number | null | undefined,
  fallback: number | 'remaining',
  params: { prompt: string; maxTokens: string },
): number {
  const param = params.maxTokens;
  const contextLength = model.engine.contextLength;
  if (promptLength >= contextLength) {
    throw badRequest(
      `This model's maximum context length is ${contextLength} tokens; the prompt has ${promptLength}.`,
      params.prompt,
      'context_length_exceeded',
    );
  }
  const remaining = contextLength - promptLength;
  if (requested !== null && requested !== undefined) {
    if (requested > context.limits.maxTokens) {
      throw badRequest(
        `${param}: at most ${context.limits.maxTokens} on this server`,
        param,
        'invalid_value',
      );
    }
    if (requested > remaining) {
      throw badRequest(
        `This model's maximum context length is ${contextLength} tokens. However, you requested ` +
          `${promptLength + requested} tokens (${promptLength} in the prompt, ${requested} for the completion).`,
        param,
        'context_length_exceeded',
      );
    }
    return requested;
  }
  const wanted = fallback === 'remaining' ? remaining : Math.min(fallback, remaining);
  return Math.min(wanted, context.limits.maxTokens);
}

/** max_tokens after a HOMER prefill: bounded by the room the merged cache leaves in the context. */
export function resolveLongContextMaxTokens(
  context: RouteContext,
  model: ServedModel,
  requested: number | null | undefined,
  fallback: number,
): number {
  const room = model.engine.longContext?.room ?? 0;
  const limit = Math.min(room, context.limits.maxTokens);
  if (requested !== null && requested !== undefined) {
    if (requested > limit) {
      throw badRequest(
        `max_tokens: with meld.long_context at most ${limit} tokens fit after the merged context`,
        'max_tokens',
        'context_length_exceeded',
      );
    }
    return requested;
  }
  return Math.min(fallback, limit);
}

export interface ChoicePlan {
  /** Choice index in the response. */
  index: number;
  prompt: number[];
  maxTokens: number;
  sampling: SamplingOptions;
  /** Read the prompt by context merging instead (meld.long_context). */
  longContext?: PreparedLongContext;
}

export interface RunChoicesOptions {
  choices: ChoicePlan[];
  stop: readonly string[];
  kvCache: KVCacheChoice | undefined;
  signal: AbortSignal;
  onDelta?: (index: number, delta: GenerationDelta) => void;
}

/**
 * Submits every choice to the scheduler at once (429 / 503 are thrown here, before any byte is sent)
 * and returns a promise of the results in choice order.
 */
export function runChoices(
  context: RouteContext,
  model: ServedModel,
  options: RunChoicesOptions,
): Promise<GenerationResult[]> {
  const capacity = context.scheduler.maxActive + context.scheduler.maxQueued;
  if (options.choices.length > capacity) {
    throw badRequest(
      `n x prompts = ${options.choices.length} exceeds this server's capacity (${capacity})`,
      'n',
    );
  }
  const tasks = options.choices.map(
    (choice) =>
      new GenerationTask({
        engine: model.engine,
        startSequence: () => {
          const longContext = model.engine.longContext;
          return choice.longContext && longContext
            ? longContext.start(choice.longContext, choice.sampling, options.kvCache)
            : model.engine.startSequence(choice.prompt, choice.sampling, options.kvCache);
        },
        lastInputToken: choice.longContext
          ? choice.longContext.lastToken
          : choice.prompt[choice.prompt.length - 1],
        maxTokens: choice.maxTokens,
        stop: options.stop,
        signal: options.signal,
        onDelta: options.onDelta ? (delta) => options.onDelta?.(choice.index, delta) : undefined,
      }),
  );
  submitTasks(context, tasks);
  return Promise.all(tasks.map((task) => task.result));
}

/** Hands tasks to the scheduler; a full queue becomes 429 with Retry-After, shutdown becomes 503. */
export function submitTasks(context: RouteContext, tasks: readonly SchedulerTask[]): void {
  try {
    void context.scheduler.submit(tasks);
  } catch (error) {
    if (error instanceof QueueFullError) {
      throw new HttpError(429, 'rate_limit_error', error.message, {
        code: 'queue_full',
        headers: { 'retry-after': String(error.retryAfterSeconds) },
      });
    }
    if (error instanceof SchedulerClosedError) {
      throw new HttpError(503, 'server_error', error.message, { code: 'shutting_down' });
    }
    throw error;
  }
}

/** Seeds of the n choices: distinct but reproducible when the request gave a seed. */
export function choiceSeed(seed: number | null | undefined, choice: number): number | undefined {
  return seed === null || seed === undefined ? undefined : seed + choice;
}

export interface MeldUsage {
  kv_cache_peak_bytes: number;
  kv_cache_policy: string;
  /** HOMER's prefill, per choice, when meld.long_context was used. */
  long_context?: LongContextStats[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  meld: MeldUsage;
}

export function buildUsage(
  promptTokens: number,
  results: readonly GenerationResult[],
  kvCache: KVCacheChoice | undefined,
): Usage {
  const completionTokens = results.reduce((sum, result) => sum + result.completionTokens, 0);
  const longContext = results.flatMap((result) => (result.longContext ? [result.longContext] : []));
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    meld: {
      kv_cache_peak_bytes: results.reduce((sum, result) => sum + result.peakKvBytes, 0),
      kv_cache_policy: kvCache?.policy ?? 'full',
      ...(longContext.length ? { long_context: longContext } : {}),
    },
  };
}

export function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}
