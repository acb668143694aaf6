// The registry of merge methods: an explicit list of declarations (no registration by import side effect).
import { ValidationError } from '@meld/tensor-core';
import type { MergeMethodV1 } from './method';
import { arceeFusion } from './methods/arcee-fusion';
import { linear } from './methods/linear';
import { modelStock } from './methods/model-stock';
import { karcher, multislerp } from './methods/multislerp';
import { nearswap } from './methods/nearswap';
import { nuslerp } from './methods/nuslerp';
import { passthrough } from './methods/passthrough';
import { ram, ramplusTl } from './methods/ram';
import { sce } from './methods/sce';
import { slerp } from './methods/slerp';
import { taskArithmeticMethods } from './methods/task-arithmetic';

export interface MergeMethodRegistry {
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The declaration, or a ValidationError at `path` listing the known names. */
  get(name: string, path?: string): MergeMethodV1;
  /** A new registry with more (or replacing) declarations. */
  with(...methods: MergeMethodV1[]): MergeMethodRegistry;
}

export function createMergeMethodRegistry(methods: readonly MergeMethodV1[]): MergeMethodRegistry {
  const byName = new Map(methods.map((method) => [method.name, method]));
  return {
    names: [...byName.keys()],
    has: (name) => byName.has(name),
    get(name, path = 'merge_method') {
      const method = byName.get(name);
      if (!method)
        throw new ValidationError(
          path,
          `unknown merge method '${name}'; known: ${[...byName.keys()].join(', ')}`,
        );
      return method;
    },
    with: (...more) => createMergeMethodRegistry([...byName.values(), ...more]),
  };
}

/** Every built-in method: mergekit's 20 plus PEFT's flavours (magnitude_prune, ties_peft, dare_ties_peft, dare_linear_peft). */
export const builtinMergeMethods: readonly MergeMethodV1[] = [
  linear,
  ...taskArithmeticMethods,
  slerp,
  nuslerp,
  multislerp,
  karcher,
  modelStock,
  sce,
  ram,
  ramplusTl,
  nearswap,
  arceeFusion,
  passthrough,
];

export const defaultMergeMethods: MergeMethodRegistry = createMergeMethodRegistry(builtinMergeMethods);
