// Trainable LoRA factors for the targeted modules, initialised as PEFT does by default:
// A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), B = 0 (so training starts at the base model).
import { Variable } from '../autodiff/tape';
import { type BaseWeights, linearModuleNames } from '../model/llama-config';
import type { SeededRandom } from '../random';
import { type LoraConfig, loraScaling, selectTargetModules } from './lora-config';

export interface LoraModule {
  /** Canonical module name, e.g. 'model.layers.0.self_attn.q_proj'. */
  readonly name: string;
  /** [rank, in] */
  readonly a: Variable;
  /** [out, rank] */
  readonly b: Variable;
}

export interface LoraParameters {
  readonly config: LoraConfig;
  readonly scaling: number;
  readonly modules: ReadonlyMap<string, LoraModule>;
}

export function createLoraParameters(
  base: BaseWeights,
  config: LoraConfig,
  random: SeededRandom,
): LoraParameters {
  const modules = new Map<string, LoraModule>();
  for (const name of selectTargetModules(linearModuleNames(base.config), config.targetModules)) {
    const weight = base.tensors.get(`${name}.weight`);
    if (!weight) continue;
    const [outFeatures, inFeatures] = weight.shape;
    const bound = 1 / Math.sqrt(inFeatures);
    const a = new Float32Array(config.rank * inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = (random.next() * 2 - 1) * bound;
    modules.set(name, {
      name,
      a: new Variable(a, [config.rank, inFeatures], true, `${name}.lora_A`),
      b: new Variable(
        new Float32Array(outFeatures * config.rank),
        [outFeatures, config.rank],
        true,
        `${name}.lora_B`,
      ),
    });
  }
  return { config, scaling: loraScaling(config), modules };
}

/** Every trainable variable, in a stable order (module order, A before B). */
export function trainableVariables(lora: LoraParameters): Variable[] {
  const out: Variable[] = [];
  for (const module of lora.modules.values()) out.push(module.a, module.b);
  return out;
}
