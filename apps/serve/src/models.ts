// Loading the configured models into engines (llama2.c .bin, GGUF, Hugging Face folders, hub ids:
// whatever @meld/runtime's loadModel reads).
import { loadModel } from '@meld/runtime';
import type { ModelEntry } from './config';
import type { ServedModel } from './context';
import { RuntimeEngine } from './runtime-engine';

export interface LoadModelOptions {
  /** Compress compressed KV caches every n decode steps. */
  kvCompressEvery: number;
}

export async function loadServedModel(entry: ModelEntry, options: LoadModelOptions): Promise<ServedModel> {
  const model = await loadModel(entry.source, {
    ...(entry.tokenizer ? { tokenizer: entry.tokenizer } : {}),
  });
  const engine = new RuntimeEngine(model, {
    compressEvery: options.kvCompressEvery,
    ...(entry.kv_cache ? { defaultKVCache: entry.kv_cache } : {}),
  });
  return { name: entry.name, engine, created: Math.floor(Date.now() / 1000) };
}
