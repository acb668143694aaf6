// HTTP errors in OpenAI's wire shape: { error: { message, type, param, code } }.
// Every failure a client can cause becomes one of these; anything else is a 500 with a generic message.
import { MeldError, ValidationError } from '@meld/tensor-core';
import type { z } from 'zod';

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

export class HttpError extends MeldError {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly errorCode: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    type: OpenAIErrorType,
    message: string,
    options: {
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super('http', message, { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.errorCode = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.errorCode } };
  }
}

export function badRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): HttpError {
  return new HttpError(400, 'invalid_request_error', message, { param, code });
}

/** Joins a zod issue path the way OpenAI names params: `messages[0].content`, `meld.kv_cache.budget`. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The first zod issue as a 400 naming the field. */
export function fromZodError(error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const param = issue ? issuePath(issue.path) : null;
  const message = issue ? `${param ? `${param}: ` : ''}${issue.message}` : 'invalid request body';
  return badRequest(message, param || null, 'invalid_value');
}

/** Converts anything thrown while serving a request into an HttpError. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ValidationError) return badRequest(error.message, error.path, 'invalid_value');
  // A ValidationError from a second installed copy of @meld/tensor-core (instanceof fails across copies).
  if (MeldError.isInstance(error) && error.code === 'validation') {
    const path = 'path' in error && typeof error.path === 'string' ? error.path : null;
    return badRequest(error.message, path, 'invalid_value');
  }
  return new HttpError(500, 'server_error', 'internal server error', { cause: error });
}
