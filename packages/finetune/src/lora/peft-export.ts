// LoRA parameters ⇄ tensor-core's PEFT adapter (adapter_model.safetensors + adapter_config.json with
// PEFT's key names and fields). The file IO itself lives once, in @meld/tensor-core.
import { createLoraAdapter, type LoraAdapter, Tensor, ValidationError } from '@meld/tensor-core';
import type { LoraParameters } from './lora-parameters';

export interface AdapterMetadata {
  /** Written as base_model_name_or_path. */
  baseModel?: string;
}

export function toPeftAdapter(lora: LoraParameters, metadata: AdapterMetadata = {}): LoraAdapter {
  const { config } = lora;
  const modules = [...lora.modules.values()].map((m) => ({
    module: m.name,
    kind: 'linear' as const,
    a: Tensor.fromF32(Float32Array.from(m.a.data), [...m.a.shape]),
    b: Tensor.fromF32(Float32Array.from(m.b.data), [...m.b.shape]),
  }));
  return createLoraAdapter(
    {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: config.rank,
      lora_alpha: config.alpha,
      lora_dropout: config.dropout,
      use_rslora: config.useRslora,
      target_modules:
        typeof config.targetModules === 'string' ? config.targetModules : [...config.targetModules],
      base_model_name_or_path: metadata.baseModel ?? null,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      modules_to_save: null,
    },
    modules,
  );
}

/** Copies A/B factors from a saved adapter into freshly created parameters (for resuming). */
export function loadPeftFactors(lora: LoraParameters, adapter: LoraAdapter): void {
  for (const module of lora.modules.values()) {
    const saved = adapter.modules.get(module.name);
    if (!saved) throw new ValidationError(`adapter.${module.name}`, 'missing from the checkpoint');
    const a = saved.a.toFloat32();
    const b = saved.b.toFloat32();
    if (a.length !== module.a.size || b.length !== module.b.size) {
      throw new ValidationError(
        `adapter.${module.name}`,
        'factor shapes differ from the training configuration',
      );
    }
    module.a.data.set(a);
    module.b.data.set(b);
  }
}
