// A real HTTP server on 127.0.0.1 that speaks the OpenAI wire format (chat, completions, SSE,
// embeddings), for testing the client end to end. Its "model" is deterministic: it answers
// `reply(content of the last message or the prompt)`. Failures can be injected per request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface InjectedFailure {
  status: number;
  retryAfterSeconds?: number;
}

export interface FixtureServer {
  baseURL: string;
  requests: RecordedRequest[];
  /** Consumed one per request before answering normally. */
  failures: InjectedFailure[];
  /** Milliseconds to wait before answering. */
  delayMs: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export function defaultReply(text: string): string {
  return `You said: ${text.slice(0, 200)}. Noted.`;
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export async function startOpenAIFixtureServer(
  reply: (text: string) => string = defaultReply,
): Promise<FixtureServer> {
  let inFlight = 0;
  const state: Omit<FixtureServer, 'baseURL' | 'close'> = {
    requests: [],
    failures: [],
    delayMs: 0,
    maxInFlight: 0,
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    const path = (request.url ?? '').replace(/^\/v1/, '');
    state.requests.push({ path, headers: request.headers, body });
    if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
    const failure = state.failures.shift();
    if (failure) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
      response.writeHead(failure.status, headers);
      response.end(JSON.stringify({ error: { message: `injected ${failure.status}` } }));
      return;
    }
    if (path === '/embeddings') {
      const input = body.input as string[];
      const data = input.map((text, index) => ({ index, embedding: [text.length, words(text), 1] }));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ object: 'list', data }));
      return;
    }
    const messages = body.messages as Array<{ content: string }> | undefined;
    const promptText = messages ? messages.map((message) => message.content).join('\n') : String(body.prompt);
    const lastText = messages ? (messages.at(-1)?.content ?? '') : String(body.prompt);
    let text = reply(lastText);
    let finishReason = 'stop';
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
    if (maxTokens !== undefined && words(text) > maxTokens) {
      text = text.split(/\s+/).slice(0, maxTokens).join(' ');
      finishReason = 'length';
    }
    const usage = { prompt_tokens: words(promptText), completion_tokens: words(text) };
    const chat = path === '/chat/completions';
    if (body.stream) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const pieces = text.match(/\S+\s*/g) ?? [];
      response.write(': keep-alive comment\n\n');
      for (const piece of pieces) {
        const choice = chat ? { index: 0, delta: { content: piece } } : { index: 0, text: piece };
        response.write(`data: ${JSON.stringify({ choices: [choice] })}\r\n\r\n`);
      }
      const last = chat
        ? { index: 0, delta: {}, finish_reason: finishReason }
        : { index: 0, text: '', finish_reason: finishReason };
      response.write(`data: ${JSON.stringify({ choices: [last] })}\n\n`);
      response.write(`data: ${JSON.stringify({ choices: [], usage })}\n\n`);
      response.end('data: [DONE]\n\n');
      return;
    }
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }
      : { index: 0, text, finish_reason: finishReason };
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ id: 'fixture', choices: [choice], usage }));
  }

  const server: Server = createServer((request, response) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    handle(request, response)
      .catch((error) => {
        response.writeHead(500);
        response.end(String(error));
      })
      .finally(() => {
        inFlight--;
      });
  });
  // longer than any pause of a busy test machine, so clients never reuse a socket the server just closed
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    baseURL: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
