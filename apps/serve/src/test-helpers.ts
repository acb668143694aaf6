// Starts the real server with the real stories260K model for tests (loopback, port 0).
import { readFileSync } from 'node:fs';
import { sharedFile } from '@meld/test-utils';
import OpenAI from 'openai';
import { parseServeConfig } from './config';
import { type StartedServer, startServer } from './start';

export const STORIES_FILES = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

export interface TestServerOptions {
  apiKey?: string;
  limits?: Record<string, number>;
}

export function startTestServer(options: TestServerOptions = {}): Promise<StartedServer> {
  return startServer(
    parseServeConfig({
      host: '127.0.0.1',
      port: 0,
      ...(options.apiKey ? { api_key: options.apiKey } : {}),
      limits: options.limits ?? {},
      models: [
        {
          name: 'stories260K',
          source: sharedFile('models/stories260K/stories260K.bin'),
          tokenizer: sharedFile('models/stories260K/tok512.bin'),
        },
      ],
    }),
  );
}

export function openaiClient(server: StartedServer, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
}

/** The text of a numbered block of llama2.c's reference outputs (REFERENCE.md). */
export function referenceText(block: number): string {
  const markdown = readFileSync(sharedFile('models/stories260K/REFERENCE.md'), 'utf8');
  const section = markdown.split(/^## /m).find((part) => part.startsWith(`${block}.`));
  const match = section ? /```text\n([\s\S]*?)```/.exec(section) : null;
  if (!match) throw new Error(`REFERENCE.md has no block ${block}`);
  return match[1]!;
}

export async function postJson(
  server: StartedServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, json };
}
