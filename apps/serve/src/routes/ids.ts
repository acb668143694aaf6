import { randomBytes } from 'node:crypto';

/** An OpenAI-style id: `cmpl-…`, `chatcmpl-…`. */
export function requestId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
