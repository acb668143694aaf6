// Errors of @meld/llm. @meld/llm sits at the bottom of the package graph and may not import
// @meld/tensor-core, so its base class carries the same `Symbol.for('meld.error')` marker as
// tensor-core's MeldError: `MeldError.isInstance(error)` is true for every error thrown here.
const marker = Symbol.for('meld.error');

export class LLMError extends Error {
  readonly [marker] = true;
  /** Stable machine-readable code, e.g. 'validation', 'api-call', 'cache'. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LLMError';
    this.code = code;
  }

  static isInstance(error: unknown): error is LLMError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

/** An options object or response body failed validation; `path` names the offending field. */
export class LLMValidationError extends LLMError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('validation', `${path}: ${message}`, options);
    this.name = 'ValidationError';
    this.path = path;
  }
}

/** An HTTP call to a model endpoint failed (after retries when `retryable`). */
export class APICallError extends LLMError {
  readonly url: string;
  /** HTTP status, or undefined for network errors and timeouts. */
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly responseBody: string | undefined;
  /** From the Retry-After header, when the server sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(
    url: string,
    status: number | undefined,
    message: string,
    details: { retryable: boolean; responseBody?: string; retryAfterMs?: number; cause?: unknown },
  ) {
    super('api-call', `${url}: ${status === undefined ? '' : `HTTP ${status}: `}${message}`, {
      cause: details.cause,
    });
    this.name = 'APICallError';
    this.url = url;
    this.status = status;
    this.retryable = details.retryable;
    this.responseBody = details.responseBody;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Turns a zod error into an LLMValidationError naming the first offending field under `root`. */
export function validationErrorFromZod(
  root: string,
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): LLMValidationError {
  const first = issues[0];
  const path = [root, ...(first?.path ?? []).map(String)].join('.');
  return new LLMValidationError(path, first?.message ?? 'invalid');
}
