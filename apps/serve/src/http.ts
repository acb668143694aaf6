// Small node:http helpers: a size-limited JSON body reader, JSON replies and an SSE writer that
// speaks OpenAI's stream format (`data: {json}\n\n` ... `data: [DONE]\n\n`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, HttpError } from './errors';

/** Bytes of an oversized body read and thrown away so the 413 reaches the client; past this, drop the socket. */
const DISCARD_FACTOR = 16;

export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const buffer = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let oversized = Number(request.headers['content-length']) > maxBytes;
    request.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) oversized = true;
      if (oversized) {
        chunks.length = 0;
        if (total > maxBytes * DISCARD_FACTOR) {
          request.destroy();
          reject(tooLarge(maxBytes));
        }
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => (oversized ? reject(tooLarge(maxBytes)) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
  const text = buffer.toString('utf8');
  if (text.trim() === '')
    throw badRequest('the request body is empty; send a JSON object', null, 'invalid_json');
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('the request body is not valid JSON', null, 'invalid_json');
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'invalid_request_error', `the request body is larger than ${maxBytes} bytes`, {
    code: 'request_too_large',
  });
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

export function sendError(response: ServerResponse, error: HttpError): void {
  if (response.headersSent) {
    // Mid-stream: OpenAI's servers send the error as one more event, then end.
    if (!response.writableEnded) {
      response.write(`data: ${JSON.stringify(error.body())}\n\n`);
      response.end();
    }
    return;
  }
  sendJson(response, error.status, error.body(), error.headers);
}

export class SseWriter {
  private readonly response: ServerResponse;
  constructor(response: ServerResponse) {
    this.response = response;
  }

  open(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.response.flushHeaders();
  }

  send(data: unknown): void {
    if (this.response.writableEnded || this.response.destroyed) return;
    this.response.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (this.response.writableEnded || this.response.destroyed) return;
    this.response.write('data: [DONE]\n\n');
    this.response.end();
  }
}
