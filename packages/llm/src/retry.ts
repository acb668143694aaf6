// Retries with exponential backoff and full jitter, honouring Retry-After when the server sends it.
import { APICallError } from './errors';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: APICallError;
}

export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  error: APICallError,
  random = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
  const jittered = exponential / 2 + (random() * exponential) / 2;
  const retryAfter = error.retryAfterMs;
  return retryAfter === undefined ? jittered : Math.min(policy.maxDelayMs, Math.max(retryAfter, jittered));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function withRetries<T>(
  policy: RetryPolicy,
  attemptCall: (attempt: number) => Promise<T>,
  options: { signal?: AbortSignal; onRetry?: (event: RetryEvent) => void } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptCall(attempt);
    } catch (error) {
      if (!(error instanceof APICallError) || !error.retryable || attempt >= policy.maxRetries) throw error;
      if (options.signal?.aborted) throw error;
      const delayMs = backoffDelay(policy, attempt, error);
      options.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}
