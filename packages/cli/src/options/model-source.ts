// --model / --tokenizer / --context: where a model comes from, and loading it with an error that
// names the flag. Used by generate, perplexity, finetune, convert and data check.
import { existsSync } from 'node:fs';
import { loadModel, type Model } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { FlagSpecs } from './parse';

export const modelFlags = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
} as const satisfies FlagSpecs;

export const contextFlag = { context: { type: 'string' } } as const satisfies FlagSpecs;

/** Help lines for --model and --tokenizer, aligned at `column`. */
export function modelFlagsHelp(column: number): string {
  const line = (flag: string, text: string) => `  ${flag.padEnd(column - 2)}${text}\n`;
  return (
    line('--model SOURCE', 'llama2.c .bin, GGUF, HF folder or hf:owner/repo (required)') +
    line('--tokenizer FILE', 'tokenizer for a llama2.c checkpoint (default: beside it)')
  );
}

export const modelSchema = {
  model: z.string({ error: '--model is required' }).min(1),
  tokenizer: z.string().optional(),
};

export const contextLengthSchema = z.coerce.number().int().positive().optional();

export interface ModelSource {
  /** The flag SOURCE came from, named in errors ('--model', 'SOURCE', '--embed'). */
  readonly flag: string;
  readonly source: string;
  readonly tokenizer?: string | undefined;
  readonly contextLength?: number | undefined;
}

/** Loads a model; a missing file or a bad tokenizer is a ValidationError naming the flag (exit 1). */
export async function loadModelSource(source: ModelSource): Promise<Model> {
  if (!source.source.startsWith('hf:') && !existsSync(source.source)) {
    throw new ValidationError(source.flag, `${source.source} does not exist`);
  }
  if (source.tokenizer !== undefined && !existsSync(source.tokenizer)) {
    throw new ValidationError('--tokenizer', `${source.tokenizer} does not exist`);
  }
  return loadModel(source.source, {
    ...(source.tokenizer ? { tokenizer: source.tokenizer } : {}),
    ...(source.contextLength ? { contextLength: source.contextLength } : {}),
  });
}
