// PEFT LoRA adapters for the runtime: read with tensor-core's PEFT IO, applied unmerged at run time
// (Transformer adds scale * B (A x) per active adapter), or merged into a copy of the weights.
import {
  adapterScale,
  applyAdapterToWeight,
  type LoraAdapter,
  readPeftAdapter,
  type Tensor,
  ValidationError,
} from '@meld/tensor-core';
import type { ActiveAdapter, RuntimeLoraAdapter, RuntimeLoraModule } from './engine/lora';
import { Model } from './model';

/** Converts a tensor-core LoraAdapter (PEFT) to the runtime's form, keyed by weight name. */
export function runtimeAdapterFromPeft(
  adapter: LoraAdapter,
  name = 'adapter',
): RuntimeLoraAdapter & { warnings: string[] } {
  const modules = new Map<string, RuntimeLoraModule>();
  const warnings = [...adapter.warnings];
  for (const [module, weights] of adapter.modules) {
    if (weights.kind !== 'linear') {
      warnings.push(`${module}: ${weights.kind} LoRA is not applied at run time (merge it instead)`);
      continue;
    }
    const rank = weights.a.shape[0]!;
    if (adapter.config.fan_in_fan_out) {
      throw new ValidationError(
        'fan_in_fan_out',
        'Llama-family linear weights are [out, in]; fan_in_fan_out adapters do not apply',
      );
    }
    const a = weights.a.toFloat32();
    const b = weights.b.toFloat32();
    modules.set(`${module}.weight`, {
      a,
      b,
      rank,
      scale: adapterScale(adapter, module),
    });
  }
  return { name, modules, warnings };
}

/** Reads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
export function loadLoraAdapter(
  folder: string,
  name: string = folder,
): RuntimeLoraAdapter & { warnings: string[]; peft: LoraAdapter } {
  const peft = readPeftAdapter(folder);
  return { ...runtimeAdapterFromPeft(peft, name), peft };
}

/** A new Model whose weights have `adapters` merged in (W + weight * scale * B A); the original is untouched. */
export function mergeAdapters(
  model: Model,
  adapters: readonly { adapter: LoraAdapter; weight: number }[],
): Model {
  const tensors = new Map<string, Tensor>(model.tensors);
  for (const { adapter, weight } of adapters) {
    for (const module of adapter.modules.keys()) {
      const name = `${module}.weight`;
      const base = tensors.get(name);
      if (!base) throw new ValidationError(`adapter.modules.${module}`, `the model has no weight ${name}`);
      tensors.set(name, applyAdapterToWeight(adapter, module, base.toF32Tensor(), weight));
    }
  }
  return new Model({
    config: model.config,
    tokenizer: model.tokenizer,
    format: model.format,
    tensors,
    source: model.source,
    warnings: model.warnings,
  });
}

export type { ActiveAdapter };
