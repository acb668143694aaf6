// meld-serve's configuration: a YAML file and/or command-line flags, validated with zod.
//
//   host: 127.0.0.1
//   port: 8080
//   api_key: secret              # optional; or --api-key / MELD_SERVE_API_KEY
//   limits: { max_body_bytes: 1048576, max_tokens: 4096, max_long_context_tokens: 32768, max_active_sequences: 4,
//             max_queued_sequences: 16, drain_timeout_seconds: 30, kv_compress_every: 8 }
//   models:
//     - name: stories260K
//       source: ../shared/models/stories260K/stories260K.bin   # relative to this file; .bin, .gguf,
//                                                              # HF folder, or hub id owner/name
//       tokenizer: ../shared/models/stories260K/tok512.bin     # optional (found beside the model)
//       kv_cache: { policy: full }                             # default for requests naming none
//       homer_calibration: stories260K.bin.homer-calibration.json   # optional, for meld.long_context
//
// Model paths come from here only: a request names a model by `name`, never by path.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { ValidationError } from '@meld/tensor-core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const kvCacheDefault = z.strictObject({
  policy: z.string().min(1),
  budget: z.union([z.number().positive(), z.string().min(1)]).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

export const modelEntrySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'letters, digits and . _ : / - only'),
  /** A local file or folder (relative to the config file) or a Hugging Face hub id. */
  source: z.string().min(1),
  /** The tokenizer file of a llama2.c checkpoint (default: tokenizer.bin or tok*.bin beside it). */
  tokenizer: z.string().min(1).optional(),
  kv_cache: kvCacheDefault.optional(),
  /** HOMER calibration JSON for meld.long_context (default: SOURCE.homer-calibration.json when present). */
  homer_calibration: z.string().min(1).optional(),
});
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const limitsSchema = z.strictObject({
  max_body_bytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  max_tokens: z.number().int().min(1).default(4096),
  max_long_context_tokens: z.number().int().min(1).default(32_768),
  max_active_sequences: z.number().int().min(1).max(256).default(4),
  max_queued_sequences: z.number().int().min(0).max(10_000).default(16),
  drain_timeout_seconds: z.number().min(0).default(30),
  kv_compress_every: z.number().int().min(0).default(8),
});
export type LimitsConfig = z.infer<typeof limitsSchema>;

export const serveConfigSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    api_key: z.string().min(1).optional(),
    limits: limitsSchema.default(limitsSchema.parse({})),
    models: z.array(modelEntrySchema).min(1),
  })
  .superRefine((config, context) => {
    const seen = new Set<string>();
    config.models.forEach((model, index) => {
      if (seen.has(model.name)) {
        context.addIssue({
          code: 'custom',
          path: ['models', index, 'name'],
          message: `duplicate name '${model.name}'`,
        });
      }
      seen.add(model.name);
    });
  });
export type ServeConfig = z.infer<typeof serveConfigSchema>;

export function parseServeConfig(input: unknown, file = 'config'): ServeConfig {
  const parsed = serveConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') || '(root)';
    throw new ValidationError(`${file}: ${path}`, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** Reads a YAML config; relative model paths are resolved against the file's folder. */
export async function loadServeConfigFile(file: string): Promise<ServeConfig> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ValidationError(file, error instanceof Error ? error.message : String(error));
  }
  const config = parseServeConfig(raw, file);
  const base = dirname(resolve(file));
  return {
    ...config,
    models: config.models.map((model) => ({
      ...model,
      source: resolveModelSource(model.source, base),
      ...(model.tokenizer ? { tokenizer: resolve(base, model.tokenizer) } : {}),
      ...(model.homer_calibration ? { homer_calibration: resolve(base, model.homer_calibration) } : {}),
    })),
  };
}

const MODEL_FILE_EXTENSIONS = new Set(['.bin', '.gguf', '.safetensors']);

/** `owner/name` (optionally `hf:` prefixed) that is not a relative or absolute path. */
export function isHubId(source: string): boolean {
  if (source.startsWith('hf:')) return true;
  if (isAbsolute(source) || source.startsWith('.')) return false;
  return (
    /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(source) && !MODEL_FILE_EXTENSIONS.has(extname(source).toLowerCase())
  );
}

/**
 * A config's or flag's model source as @meld/runtime's loadModel takes it: an existing path resolved
 * against `base`, or `hf:owner/name` for a hub id.
 */
export function resolveModelSource(source: string, base: string): string {
  if (source.startsWith('hf:')) return source;
  const path = resolve(base, source);
  if (existsSync(path) || !isHubId(source)) return path;
  return `hf:${source}`;
}

/** The model name `--model SOURCE` gets: the file or folder name, without a model-file extension. */
export function defaultModelName(source: string): string {
  const name = basename(source.replace(/^hf:/, '').replace(/[/\\]+$/, ''));
  const extension = extname(name);
  return MODEL_FILE_EXTENSIONS.has(extension.toLowerCase()) ? name.slice(0, -extension.length) : name;
}
