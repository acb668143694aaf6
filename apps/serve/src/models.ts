// Loading the configured models into engines (llama2.c .bin, GGUF, Hugging Face folders, hub ids:
// whatever @meld/runtime's loadModel reads).
import { existsSync } from 'node:fs';
import { calibrationPathFor, loadHomerCalibration } from '@meld/context-merge';
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
  // HOMER's significance calibration: the configured file, else the conventional one beside the model.
  const conventional = entry.source.startsWith('hf:') ? undefined : calibrationPathFor(entry.source);
  const calibrationFile =
    entry.homer_calibration ?? (conventional && existsSync(conventional) ? conventional : undefined);
  const engine = new RuntimeEngine(model, {
    compressEvery: options.kvCompressEvery,
    ...(calibrationFile ? { homerCalibration: loadHomerCalibration(calibrationFile) } : {}),
    ...(entry.kv_cache ? { defaultKVCache: entry.kv_cache } : {}),
  });
  return { name: entry.name, engine, created: Math.floor(Date.now() / 1000) };
}
