// Input models: a folder (or file) of safetensors, read lazily through tensor-core.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FormatError, openSafetensorsModel, type Tensor } from '@meld/tensor-core';

/** What the planner and executor need from an input model (tensor-core's SafetensorsModel fits). */
export interface TensorSource {
  readonly names: string[];
  has(name: string): boolean;
  info(name: string): {
    readonly dtype: string;
    readonly shape: readonly number[];
    readonly byteLength: number;
  };
  readTensor(name: string): Tensor;
  readBytes(name: string): Uint8Array;
  close(): void;
}

export interface InputModel {
  /** The reference as written in the config. */
  readonly reference: string;
  /** Folder holding config.json / tokenizer files. */
  readonly folder: string;
  readonly source: TensorSource;
  /** config.json, when present. */
  readonly config: Record<string, unknown> | undefined;
}

/** Resolves a model reference: absolute, else relative to the config's folder, else to the cwd. */
export function resolveModelPath(reference: string, configFolder: string | undefined): string {
  if (reference.includes('+')) {
    throw new FormatError(
      reference,
      'model',
      "'model+lora' references are not supported here; run `meld lora apply` first",
    );
  }
  if (isAbsolute(reference)) return reference;
  if (configFolder) {
    const candidate = resolve(configFolder, reference);
    if (existsSync(candidate)) return candidate;
  }
  return resolve(reference);
}

export function openInputModel(reference: string, configFolder?: string): InputModel {
  const path = resolveModelPath(reference, configFolder);
  if (!existsSync(path)) {
    throw new FormatError(
      path,
      'model',
      `model '${reference}' not found (downloading from the hub is not supported by merge)`,
    );
  }
  const folder = statSync(path).isDirectory() ? path : dirname(path);
  const source = openSafetensorsModel(path);
  let config: Record<string, unknown> | undefined;
  const configPath = join(folder, 'config.json');
  if (existsSync(configPath)) {
    try {
      config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      source.close();
      throw new FormatError(configPath, 'json', (error as Error).message, { cause: error });
    }
  }
  return { reference, folder, source, config };
}
