// Input models: a folder (or file) of safetensors, read lazily through tensor-core.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  applyAdapterToWeight,
  encodeBf16,
  encodeF16,
  FormatError,
  type LoraAdapter,
  openSafetensorsModel,
  readPeftAdapter,
  Tensor,
} from '@meld/tensor-core';

/** What the planner and executor need from an input model (tensor-core's SafetensorsModel fits). */
export interface TensorSource {
  readonly names: string[];
  has(name: string): boolean;
  info(name: string): {
    readonly dtype: string;
    readonly shape: readonly number[];
    readonly byteLength: number;
  };
  /** With `into` (a reusable buffer at least byteLength long) the tensor may be a view of it. */
  readTensor(name: string, into?: Uint8Array): Tensor;
  readBytes(name: string): Uint8Array;
  /**
   * Where a tensor's bytes lie in which file (tensor-core's SafetensorsModel has it, and then
   * tensorFromBytes): row workers read them directly, in parallel.
   */
  tensorFileRange?(name: string): {
    readonly path: string;
    readonly offset: number;
    readonly byteLength: number;
  };
  /** The Tensor readTensor returns, from the tensor's bytes read elsewhere. */
  tensorFromBytes?(name: string, bytes: Uint8Array): Tensor;
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

/** A model with a LoRA adapter merged in on the fly (mergekit's `model: base+lora_path`). */
export function withLoraAdapter(source: TensorSource, adapter: LoraAdapter): TensorSource {
  const modules = new Map([...adapter.modules.keys()].map((module) => [`${module}.weight`, module]));
  for (const name of [...modules.keys(), ...adapter.extra.keys()]) {
    if (!source.has(name))
      throw new FormatError('adapter', name, 'the adapter targets a weight the model does not have');
  }
  const cast = (like: Tensor, values: Float32Array): Tensor => {
    if (like.dtype === 'bf16') return Tensor.fromBytes('bf16', like.shape, encodeBf16(values));
    if (like.dtype === 'f16') return Tensor.fromBytes('f16', like.shape, encodeF16(values));
    return Tensor.fromF32(values, like.shape);
  };
  const readTensor = (name: string, into?: Uint8Array): Tensor => {
    const tensor = source.readTensor(name, into);
    const module = modules.get(name);
    const saved = adapter.extra.get(name);
    if (module) return cast(tensor, applyAdapterToWeight(adapter, module, tensor).toFloat32());
    if (saved) return cast(tensor, saved.toFloat32());
    return tensor;
  };
  return {
    get names() {
      return source.names;
    },
    has: (name) => source.has(name),
    info: (name) => source.info(name),
    readTensor,
    readBytes: (name) =>
      modules.has(name) || adapter.extra.has(name) ? readTensor(name).bytes() : source.readBytes(name),
    close: () => source.close(),
  };
}

export function openInputModel(reference: string, configFolder?: string): InputModel {
  const plus = reference.indexOf('+');
  if (plus > 0) {
    // `base+lora_path`: the adapter is merged into the model as its tensors are read
    const model = openInputModel(reference.slice(0, plus), configFolder);
    const adapterPath = resolveModelPath(reference.slice(plus + 1), configFolder);
    try {
      return { ...model, reference, source: withLoraAdapter(model.source, readPeftAdapter(adapterPath)) };
    } catch (error) {
      model.source.close();
      throw error;
    }
  }
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
