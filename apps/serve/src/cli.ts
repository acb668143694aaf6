// meld-serve's command line: flags (node:util parseArgs + zod) to a config, then start the server.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  defaultModelName,
  loadServeConfigFile,
  parseServeConfig,
  resolveModelSource,
  type ServeConfig,
} from './config';
import { type StartedServer, startServer } from './start';

const HELP = `meld-serve: an OpenAI-compatible HTTP server over @meld/runtime

Usage:
  meld-serve --config FILE.yml [--host HOST] [--port PORT] [--api-key KEY]
  meld-serve --model SOURCE [--model-name NAME] [--tokenizer FILE] [--host HOST] [--port PORT] [--api-key KEY]

Flags:
  --config FILE        YAML config: host, port, api_key, limits and models (see the README).
  --model SOURCE       Serve one model without a config file: a llama2.c checkpoint (.bin), a GGUF
                       file, a Hugging Face folder, or a hub id (owner/name or hf:owner/name).
  --model-name NAME    The id clients send as "model" (default: SOURCE's file name without extension).
  --tokenizer FILE     Tokenizer of a llama2.c checkpoint (default: tokenizer.bin or the one tok*.bin beside it).
  --host HOST          Address to bind (default 127.0.0.1, or the config's host).
  --port PORT          Port to bind; 0 picks a free one (default 8080, or the config's port).
  --api-key KEY        Require "Authorization: Bearer KEY" on every route but /health
                       (default: the config's api_key, else $MELD_SERVE_API_KEY, else none).
  --max-active N       Sequences decoded at once (default 4).
  --max-queued N       Sequences waiting for a slot before 429 (default 16).
  -h, --help           Show this help.

Once ready it prints "listening on http://HOST:PORT". SIGTERM / SIGINT stop accepting connections,
finish in-flight requests, then exit.`;

const flagsSchema = z
  .object({
    config: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    'model-name': z.string().min(1).optional(),
    tokenizer: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: z.coerce.number().int().min(0).max(65535).optional(),
    'api-key': z.string().min(1).optional(),
    'max-active': z.coerce.number().int().min(1).max(256).optional(),
    'max-queued': z.coerce.number().int().min(0).optional(),
    help: z.boolean().optional(),
  })
  .superRefine((flags, context) => {
    if (flags.help) return;
    if (!flags.config === !flags.model) {
      context.addIssue({
        code: 'custom',
        path: ['config'],
        message: 'give exactly one of --config or --model',
      });
    }
    if (flags.config && (flags['model-name'] || flags.tokenizer)) {
      context.addIssue({
        code: 'custom',
        path: ['model-name'],
        message: '--model-name and --tokenizer go with --model',
      });
    }
  });

async function resolveConfig(
  flags: z.infer<typeof flagsSchema>,
  env: Record<string, string | undefined>,
): Promise<ServeConfig> {
  const base = flags.config
    ? await loadServeConfigFile(flags.config)
    : parseServeConfig({
        models: [
          {
            name: flags['model-name'] ?? defaultModelName(flags.model!),
            source: resolveModelSource(flags.model!, process.cwd()),
            ...(flags.tokenizer ? { tokenizer: resolve(flags.tokenizer) } : {}),
          },
        ],
      });
  const apiKey = flags['api-key'] ?? base.api_key ?? env.MELD_SERVE_API_KEY;
  return {
    ...base,
    host: flags.host ?? base.host,
    port: flags.port ?? base.port,
    ...(apiKey ? { api_key: apiKey } : {}),
    limits: {
      ...base.limits,
      ...(flags['max-active'] ? { max_active_sequences: flags['max-active'] } : {}),
      ...(flags['max-queued'] !== undefined ? { max_queued_sequences: flags['max-queued'] } : {}),
    },
  };
}

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: Record<string, string | undefined>;
}

/** Exit code when the command is done (help, bad flags); the running server otherwise. */
export type CliResult = { kind: 'exit'; code: number } | { kind: 'serving'; server: StartedServer };

export async function runCli(argv: readonly string[], io: CliIO): Promise<CliResult> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        model: { type: 'string' },
        'model-name': { type: 'string' },
        tokenizer: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'api-key': { type: 'string' },
        'max-active': { type: 'string' },
        'max-queued': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`meld-serve: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}\n`);
    return { kind: 'exit', code: 2 };
  }
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    io.stderr(`meld-serve: --${issue?.path.join('.')}: ${issue?.message}\n`);
    return { kind: 'exit', code: 2 };
  }
  if (parsed.data.help) {
    io.stdout(`${HELP}\n`);
    return { kind: 'exit', code: 0 };
  }
  const config = await resolveConfig(parsed.data, io.env ?? process.env);
  const server = await startServer(config, {
    onError: (error, request) => {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      io.stderr(`meld-serve: ${request.method} ${request.path} failed: ${detail}\n`);
    },
  });
  io.stdout(`listening on ${server.url}\n`);
  return { kind: 'serving', server };
}
