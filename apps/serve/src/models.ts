// Loading the configured models into engines.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { loadLlama2c } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import type { ModelEntry } from './config';
import type { ServedModel } from './context';
import { RuntimeEngine } from './runtime-engine';

export interface LoadModelOptions {
  /** Compress compressed KV caches every n decode steps. */
  kvCompressEvery: number;
}

/** The tokenizer beside a llama2.c checkpoint: tokenizer.bin, else the one tok*.bin file. */
export function findLlama2cTokenizer(checkpoint: string): string | undefined {
  const folder = dirname(checkpoint);
  if (existsSync(join(folder, 'tokenizer.bin'))) return join(folder, 'tokenizer.bin');
  const candidates = readdirSync(folder).filter((file) => /^tok.*\.bin$/.test(file));
  return candidates.length === 1 ? join(folder, candidates[0]!) : undefined;
}

export async function loadServedModel(entry: ModelEntry, options: LoadModelOptions): Promise<ServedModel> {
  const extension = extname(entry.source).toLowerCase();
  if (extension !== '.bin') {
    throw new ValidationError(
      `models.${entry.name}.source`,
      `${entry.source}: this build of meld-serve loads llama2.c checkpoints (.bin); ` +
        'GGUF, safetensors and hub ids arrive with @meld/runtime loadModel',
    );
  }
  if (!existsSync(entry.source))
    throw new ValidationError(`models.${entry.name}.source`, `${entry.source}: no such file`);
  const tokenizer = entry.tokenizer ?? findLlama2cTokenizer(entry.source);
  if (!tokenizer) {
    throw new ValidationError(
      `models.${entry.name}.tokenizer`,
      `no tokenizer given for ${entry.source} and no tokenizer.bin or single tok*.bin beside it`,
    );
  }
  const model = await loadLlama2c(entry.source, tokenizer);
  const engine = new RuntimeEngine(model, {
    compressEvery: options.kvCompressEvery,
    ...(entry.kv_cache ? { defaultKVCache: entry.kv_cache } : {}),
  });
  return { name: entry.name, engine, created: Math.floor(Date.now() / 1000) };
}
