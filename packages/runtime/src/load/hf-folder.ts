// Hugging Face model folders: config.json + *.safetensors (single or sharded) + tokenizer.json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FormatError, openSafetensorsModel, type Tensor } from '@meld/tensor-core';
import { Model } from '../model';
import { HuggingFaceTokenizer } from '../tokenizer/huggingface-tokenizer';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { parseHfConfig } from './hf-config';

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new FormatError(path, 'json', `cannot read: ${(error as Error).message}`, { cause: error });
  }
}

/** A tokenizer.json file (with tokenizer_config.json beside it when present). */
export function readHfTokenizerFile(path: string): HuggingFaceTokenizer {
  if (!existsSync(path)) throw new FormatError(path, 'file', 'tokenizer file does not exist');
  const configPath = join(dirname(path), 'tokenizer_config.json');
  return new HuggingFaceTokenizer({
    tokenizerJson: readJson(path),
    tokenizerConfig: existsSync(configPath) ? readJson(configPath) : {},
  });
}

export function readHfTokenizer(
  folder: string,
  ids: { bosTokenId?: number; eosTokenId?: number } = {},
): HuggingFaceTokenizer {
  const tokenizerPath = join(folder, 'tokenizer.json');
  if (!existsSync(tokenizerPath))
    throw new FormatError(tokenizerPath, 'file', 'tokenizer.json is missing (pass a tokenizer explicitly)');
  const configPath = join(folder, 'tokenizer_config.json');
  return new HuggingFaceTokenizer({
    tokenizerJson: readJson(tokenizerPath),
    tokenizerConfig: existsSync(configPath) ? readJson(configPath) : {},
    ...ids,
  });
}

export interface LoadHfFolderOptions {
  readonly contextLength?: number;
  readonly tokenizer?: Tokenizer;
  readonly source?: string;
}

export async function loadHfFolder(folder: string, options: LoadHfFolderOptions = {}): Promise<Model> {
  const configPath = join(folder, 'config.json');
  if (!existsSync(configPath))
    throw new FormatError(configPath, 'file', 'config.json is missing: not a Hugging Face model folder');
  const warnings: string[] = [];
  const parsed = parseHfConfig(readJson(configPath), configPath, warnings);
  const config = options.contextLength ? { ...parsed, contextLength: options.contextLength } : parsed;
  const tokenizer =
    options.tokenizer ??
    readHfTokenizer(folder, {
      ...(config.bosTokenId !== undefined ? { bosTokenId: config.bosTokenId } : {}),
      ...(config.eosTokenIds[0] !== undefined ? { eosTokenId: config.eosTokenIds[0] } : {}),
    });
  const weights = openSafetensorsModel(folder);
  try {
    // Read lazily, tensor by tensor, so the engine's copies replace the loaded ones as it goes.
    const tensors = {
      get: (name: string): Tensor | undefined => (weights.has(name) ? weights.readTensor(name) : undefined),
      has: (name: string) => weights.has(name),
      keys: () => weights.names,
    };
    return new Model({
      config,
      tokenizer,
      format: 'hf',
      tensors,
      source: options.source ?? folder,
      warnings,
    });
  } finally {
    weights.close();
  }
}
