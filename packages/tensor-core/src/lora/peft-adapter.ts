// Reading and writing PEFT LoRA adapters: a folder with adapter_config.json and
// adapter_model.safetensors, as huggingface/peft's save_pretrained writes it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, ValidationError } from '../errors';
import { writeFileAtomic } from '../formats/atomic-write';
import { pythonJsonDumps } from '../formats/python-json';
import { openSafetensors } from '../formats/safetensors-reader';
import { type SafetensorsEntry, safetensorsEntry, writeSafetensors } from '../formats/safetensors-writer';
import type { Tensor } from '../tensor';
import { applyLoraDelta, type LoraModuleWeights, loraDelta, loraDimensions } from './lora-delta';
import {
  loraModuleScale,
  type PeftLoraConfig,
  type PeftLoraConfigInput,
  parsePeftLoraConfig,
} from './peft-config';
import { parsePeftKey, peftKey, peftKeyPrefix, stripPeftPrefix } from './peft-keys';

export const adapterConfigFileName = 'adapter_config.json';
export const adapterWeightsFileName = 'adapter_model.safetensors';

/** A LoRA adapter in memory: its config and, per canonical module name, the A and B factors. */
export interface LoraAdapter {
  readonly specificationVersion: 'v1';
  readonly config: PeftLoraConfig;
  readonly modules: ReadonlyMap<string, LoraModuleWeights>;
  /** Other saved tensors (modules_to_save, LoRA biases), by name without `base_model.model.`. */
  readonly extra: ReadonlyMap<string, Tensor>;
  /** Things worth telling the user (e.g. a factor rank that disagrees with the config). */
  readonly warnings: readonly string[];
}

/** Builds an adapter, validating the config and every module's shapes. */
export function createLoraAdapter(
  config: PeftLoraConfigInput,
  modules: Iterable<LoraModuleWeights>,
  extra: ReadonlyMap<string, Tensor> = new Map(),
): LoraAdapter {
  const parsed = parsePeftLoraConfig(config);
  const map = new Map<string, LoraModuleWeights>();
  const warnings: string[] = [];
  for (const weights of modules) {
    const [rank] = loraDimensions(weights);
    if (map.has(weights.module)) throw new ValidationError(`modules.${weights.module}`, 'duplicate module');
    const expected = loraModuleScale(parsed, weights.module).rank;
    if (rank !== expected)
      warnings.push(`${weights.module}: factors have rank ${rank}, the config says ${expected}`);
    map.set(weights.module, weights);
  }
  return { specificationVersion: 'v1', config: parsed, modules: map, extra, warnings };
}

/** Scale s of one module (alpha/r or alpha/sqrt(r), rank_pattern/alpha_pattern applied). */
export function adapterScale(adapter: LoraAdapter, module: string): number {
  return loraModuleScale(adapter.config, module).scale;
}

/** ΔW of one module, scaled as the adapter's config says (times `multiplier`, default 1). */
export function adapterDelta(adapter: LoraAdapter, module: string, multiplier = 1): Tensor {
  const weights = adapter.modules.get(module);
  if (!weights) throw new ValidationError('module', `adapter has no module '${module}'`);
  return loraDelta(weights, {
    scale: multiplier * adapterScale(adapter, module),
    fanInFanOut: adapter.config.fan_in_fan_out,
  });
}

/** W + multiplier · ΔW for one module. */
export function applyAdapterToWeight(
  adapter: LoraAdapter,
  module: string,
  weight: Tensor,
  multiplier = 1,
): Tensor {
  const weights = adapter.modules.get(module);
  if (!weights) throw new ValidationError('module', `adapter has no module '${module}'`);
  return applyLoraDelta(weight, weights, {
    scale: multiplier * adapterScale(adapter, module),
    fanInFanOut: adapter.config.fan_in_fan_out,
  });
}

/** Reads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
export function readPeftAdapter(folder: string): LoraAdapter {
  const configPath = join(folder, adapterConfigFileName);
  const weightsPath = join(folder, adapterWeightsFileName);
  if (!existsSync(configPath)) throw new FormatError(configPath, 'file', 'adapter_config.json is missing');
  if (!existsSync(weightsPath)) {
    const hint = existsSync(join(folder, 'adapter_model.bin'))
      ? ' (adapter_model.bin, a pickle, is not supported)'
      : '';
    throw new FormatError(weightsPath, 'file', `adapter_model.safetensors is missing${hint}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    throw new FormatError(configPath, 'json', (error as Error).message, { cause: error });
  }
  const config = parsePeftLoraConfig(json, configPath);
  const file = openSafetensors(weightsPath);
  try {
    const factors = new Map<string, { kind: LoraModuleWeights['kind']; a?: Tensor; b?: Tensor }>();
    const extra = new Map<string, Tensor>();
    for (const name of file.names) {
      const parsed = parsePeftKey(name);
      if (!parsed) {
        extra.set(stripPeftPrefix(name), file.readTensor(name));
        continue;
      }
      const entry = factors.get(parsed.module) ?? { kind: parsed.kind };
      if (entry.kind !== parsed.kind)
        throw new FormatError(weightsPath, name, 'mixes embedding and linear LoRA factors');
      const tensor = file.readTensor(name);
      if (parsed.part === 'A') entry.a = tensor;
      else entry.b = tensor;
      factors.set(parsed.module, entry);
    }
    const modules: LoraModuleWeights[] = [];
    for (const [module, entry] of factors) {
      if (!entry.a || !entry.b) {
        throw new FormatError(
          weightsPath,
          peftKey(module, entry.a ? 'B' : 'A', entry.kind),
          'the other factor is missing',
        );
      }
      const weights = { module, kind: entry.kind, a: entry.a, b: entry.b };
      try {
        loraDimensions(weights);
      } catch (error) {
        throw new FormatError(weightsPath, peftKey(module, 'A', entry.kind), (error as Error).message, {
          cause: error,
        });
      }
      modules.push(weights);
    }
    return createLoraAdapter(config, modules, extra);
  } finally {
    file.close();
  }
}

/** Writes a PEFT adapter folder (created if needed); both files atomically. */
export function writePeftAdapter(folder: string, adapter: LoraAdapter): void {
  mkdirSync(folder, { recursive: true });
  const entries: SafetensorsEntry[] = [];
  for (const weights of adapter.modules.values()) {
    entries.push(safetensorsEntry(peftKey(weights.module, 'A', weights.kind), weights.a));
    entries.push(safetensorsEntry(peftKey(weights.module, 'B', weights.kind), weights.b));
  }
  for (const [name, tensor] of adapter.extra)
    entries.push(safetensorsEntry(`${peftKeyPrefix}${name}`, tensor));
  writeSafetensors(join(folder, adapterWeightsFileName), entries, { metadata: { format: 'pt' } });
  writeFileAtomic(join(folder, adapterConfigFileName), `${pythonJsonDumps(adapter.config)}\n`);
}
