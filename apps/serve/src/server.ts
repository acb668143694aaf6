// The HTTP server: routing, API-key check, body limit, OpenAI-style errors, client-disconnect
// cancellation and graceful shutdown (stop accepting, finish in-flight requests, then close).

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouteContext, ServedModel, ServeLimits } from './context';
import { HttpError, toHttpError } from './errors';
import { readJsonBody, sendError, sendJson } from './http';
import { Metrics } from './metrics';
import { handleChatCompletions } from './routes/chat';
import { handleCompletions } from './routes/completions';
import { handleEmbeddings } from './routes/embeddings';
import { handleDetokenize, handleTokenize } from './routes/tokenize';
import { Scheduler } from './scheduler';

export interface ServeServerOptions {
  models: readonly ServedModel[];
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  limits?: Partial<ServeServerLimits>;
  /** Called with every unexpected error (answered as a 500); meld-serve prints them to stderr. */
  onError?: (error: unknown, request: { method: string; path: string }) => void;
}

export interface ServeServerLimits extends ServeLimits {
  /** Sequences decoded at once (interleaved, one token each per tick). */
  maxActiveSequences: number;
  /** Sequences waiting for a slot before requests get 429. */
  maxQueuedSequences: number;
  /** How long shutdown waits for in-flight requests before cancelling them. */
  drainTimeoutMs: number;
}

export const defaultLimits: ServeServerLimits = {
  maxBodyBytes: 1024 * 1024,
  maxTokens: 4096,
  maxLongContextTokens: 32_768,
  maxActiveSequences: 4,
  maxQueuedSequences: 16,
  drainTimeoutMs: 30_000,
};

type PostHandler = (
  context: RouteContext,
  body: unknown,
  response: ServerResponse,
  signal: AbortSignal,
) => Promise<void>;

const POST_ROUTES: Record<string, PostHandler> = {
  '/v1/completions': handleCompletions,
  '/v1/chat/completions': handleChatCompletions,
  '/v1/embeddings': handleEmbeddings,
  '/tokenize': handleTokenize,
  '/detokenize': handleDetokenize,
};

/** The route label of a path in meld_requests_total (unknown paths share one label). */
function metricsRoute(path: string): string {
  if (path.startsWith('/v1/models/')) return '/v1/models/{id}';
  if (path in POST_ROUTES || ['/health', '/metrics', '/v1/models'].includes(path)) return path;
  return 'other';
}

export class ServeServer {
  readonly http: Server;
  readonly scheduler: Scheduler;
  readonly metrics: Metrics;
  readonly limits: ServeServerLimits;
  private readonly context: RouteContext;
  private readonly apiKey: Buffer | undefined;
  private readonly inFlight = new Set<AbortController>();
  private draining: Promise<void> | undefined;
  private readonly onError: ServeServerOptions['onError'];

  constructor(options: ServeServerOptions) {
    this.limits = { ...defaultLimits, ...options.limits };
    this.scheduler = new Scheduler({
      maxActive: this.limits.maxActiveSequences,
      maxQueued: this.limits.maxQueuedSequences,
    });
    this.metrics = new Metrics({
      queueLength: () => this.scheduler.queuedCount,
      activeSequences: () => this.scheduler.activeCount,
      kvBytes: () => this.scheduler.kvBytes(),
    });
    const models = new Map<string, ServedModel>();
    for (const model of options.models) models.set(model.name, model);
    this.context = { models, scheduler: this.scheduler, metrics: this.metrics, limits: this.limits };
    this.apiKey = options.apiKey ? Buffer.from(options.apiKey) : undefined;
    this.onError = options.onError;
    this.http = createServer((request, response) => void this.handle(request, response));
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const address = this.http.address() as AddressInfo;
        const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        resolve({ host: address.address, port: address.port, url: `http://${shownHost}:${address.port}` });
      });
    });
  }

  /**
   * Graceful shutdown: stop accepting connections, answer new requests on open connections with 503,
   * let in-flight requests finish (cancelling them after drainTimeoutMs), then close.
   */
  shutdown(): Promise<void> {
    if (this.draining) return this.draining;
    this.scheduler.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const controller of this.inFlight) controller.abort(new Error('server shut down'));
      this.http.closeAllConnections();
    }, this.limits.drainTimeoutMs);
    timer.unref();
    this.draining = Promise.all([closed, this.scheduler.idle()]).then(() => clearTimeout(timer));
    return this.draining;
  }

  private authorized(request: IncomingMessage): boolean {
    if (!this.apiKey) return true;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) return false;
    const given = Buffer.from(match[1]!.trim());
    return given.length === this.apiKey.length && timingSafeEqual(given, this.apiKey);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]!;
    const method = request.method ?? 'GET';
    const route = metricsRoute(path);
    response.on('finish', () => {
      this.metrics.countRequest(route, response.statusCode);
      if (this.draining) this.http.closeIdleConnections();
    });
    const controller = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) controller.abort(new Error('client disconnected'));
    });
    this.inFlight.add(controller);
    try {
      if (this.draining) {
        response.setHeader('connection', 'close');
        throw new HttpError(503, 'server_error', 'the server is shutting down', { code: 'shutting_down' });
      }
      if (method === 'GET' && path === '/health') {
        sendJson(response, 200, {
          status: 'ok',
          models: [...this.context.models.keys()],
          active_sequences: this.scheduler.activeCount,
          queued_sequences: this.scheduler.queuedCount,
        });
        return;
      }
      if (!this.authorized(request)) {
        throw new HttpError(401, 'invalid_request_error', 'Incorrect API key provided.', {
          code: 'invalid_api_key',
        });
      }
      if (method === 'GET' && path === '/metrics') {
        const text = this.metrics.render();
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        response.end(text);
        return;
      }
      if (method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
        this.handleModels(path, response);
        return;
      }
      const handler = POST_ROUTES[path];
      if (!handler) {
        throw new HttpError(404, 'invalid_request_error', `Unknown request URL: ${method} ${path}`, {
          code: 'unknown_url',
        });
      }
      if (method !== 'POST') {
        throw new HttpError(405, 'invalid_request_error', `${path} accepts POST only`, {
          code: 'method_not_allowed',
        });
      }
      const body = await readJsonBody(request, this.limits.maxBodyBytes);
      await handler(this.context, body, response, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        if (!response.writableEnded) response.destroy();
        return;
      }
      const httpError = toHttpError(error);
      if (httpError.status >= 500 && httpError.errorCode !== 'shutting_down') {
        this.onError?.(httpError.cause ?? error, { method, path });
      }
      if (httpError.status === 413) response.setHeader('connection', 'close');
      sendError(response, httpError);
    } finally {
      this.inFlight.delete(controller);
    }
  }

  private handleModels(path: string, response: ServerResponse): void {
    const describe = (model: ServedModel) => ({
      id: model.name,
      object: 'model',
      created: model.created,
      owned_by: 'meld',
      meld: {
        context_length: model.engine.contextLength,
        chat_template: model.engine.chatTemplate,
        kv_cache_policies: model.engine.kvPolicies,
      },
    });
    if (path === '/v1/models') {
      sendJson(response, 200, { object: 'list', data: [...this.context.models.values()].map(describe) });
      return;
    }
    const id = decodeURIComponent(path.slice('/v1/models/'.length));
    const model = this.context.models.get(id);
    if (!model) {
      throw new HttpError(404, 'invalid_request_error', `The model \`${id}\` does not exist`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    sendJson(response, 200, describe(model));
  }
}
