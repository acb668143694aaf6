// loadModel(source): one entry point for llama2.c files, GGUF files, HF folders and hf:owner/repo.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError, ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { Model } from '../model';
import { loadHfFolder, readHfTokenizerFile } from './hf-folder';
import { loadLlama2c } from './llama2c';

export const loadModelOptionsSchema = z.object({
  /** Tokenizer file (llama2.c tokenizer.bin or a tokenizer.json); found beside the model when omitted. */
  tokenizer: z.string().min(1).optional(),
  /** Overrides the context length the file declares. */
  contextLength: z.number().int().positive().optional(),
});

export type LoadModelOptions = z.input<typeof loadModelOptionsSchema>;

function magic(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(4);
    readSync(fd, buffer, 0, 4, 0);
    return buffer.toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** The llama2.c tokenizer beside a checkpoint: tokenizer.bin, else tok<vocab>.bin, else the only tok*.bin. */
export function findLlama2cTokenizer(modelPath: string, vocabSize?: number): string {
  const folder = dirname(modelPath);
  const candidates = readdirSync(folder).filter(
    (name) => /^tok.*\.bin$/.test(name) && name !== basename(modelPath),
  );
  const preferred = ['tokenizer.bin', ...(vocabSize ? [`tok${vocabSize}.bin`] : [])].find((name) =>
    candidates.includes(name),
  );
  const chosen = preferred ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!chosen) {
    throw new FormatError(
      modelPath,
      'tokenizer',
      `no tokenizer.bin beside the model${candidates.length > 1 ? ` (several candidates: ${candidates.join(', ')})` : ''}; pass one explicitly`,
    );
  }
  return join(folder, chosen);
}

function llama2cVocabSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(28);
    readSync(fd, buffer, 0, 28, 0);
    return Math.abs(buffer.readInt32LE(20));
  } finally {
    closeSync(fd);
  }
}

export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<Model> {
  const parsed = loadModelOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const settings = parsed.data;
  const context = settings.contextLength ? { contextLength: settings.contextLength } : {};
  if (source.startsWith('hf:')) {
    const { resolveHubModel } = await import('./hub-download');
    const folder = await resolveHubModel(source);
    return loadHfFolder(folder, { ...context, source });
  }
  if (!existsSync(source)) throw new ValidationError('source', `${source} does not exist`);
  // A tokenizer.json given explicitly replaces the one a folder or GGUF file carries.
  const jsonTokenizer = settings.tokenizer?.endsWith('.json')
    ? readHfTokenizerFile(settings.tokenizer)
    : undefined;
  const withTokenizer = jsonTokenizer ? { ...context, tokenizer: jsonTokenizer } : context;
  if (statSync(source).isDirectory()) return loadHfFolder(source, withTokenizer);
  if (magic(source) === 'GGUF') {
    const { loadGguf } = await import('./gguf');
    return loadGguf(source, withTokenizer);
  }
  if (jsonTokenizer)
    throw new ValidationError(
      'options.tokenizer',
      'a llama2.c checkpoint takes a tokenizer.bin, not a tokenizer.json',
    );
  const tokenizer = settings.tokenizer ?? findLlama2cTokenizer(source, llama2cVocabSize(source));
  return loadLlama2c(source, tokenizer, context);
}
