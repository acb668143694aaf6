// Load every configured model and start listening: what `meld-serve` does, callable from code.
import type { ServeConfig } from './config';
import type { ServedModel } from './context';
import { loadServedModel } from './models';
import { ServeServer, type ServeServerOptions } from './server';

export interface StartedServer {
  server: ServeServer;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  host: string;
  port: number;
  /** Graceful shutdown (drains in-flight requests). */
  close(): Promise<void>;
}

export async function startServer(
  config: ServeConfig,
  options: { onError?: ServeServerOptions['onError'] } = {},
): Promise<StartedServer> {
  const models: ServedModel[] = [];
  for (const entry of config.models) {
    models.push(await loadServedModel(entry, { kvCompressEvery: config.limits.kv_compress_every }));
  }
  const server = new ServeServer({
    models,
    ...(config.api_key ? { apiKey: config.api_key } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    limits: {
      maxBodyBytes: config.limits.max_body_bytes,
      maxTokens: config.limits.max_tokens,
      maxLongContextTokens: config.limits.max_long_context_tokens,
      maxActiveSequences: config.limits.max_active_sequences,
      maxQueuedSequences: config.limits.max_queued_sequences,
      drainTimeoutMs: config.limits.drain_timeout_seconds * 1000,
    },
  });
  const address = await server.listen(config.port, config.host);
  return { server, ...address, close: () => server.shutdown() };
}
