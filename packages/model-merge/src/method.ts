// The MergeMethodV1 contract: a merge method is a declaration (name, reference URL, zod schemas of
// its global and per-model parameters, and a function). The registry maps names to declarations;
// variants (TIES, DARE, DELLA, their PEFT flavours) are parameters of one implementation.
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { RowWorkerPool } from './row-workers';
import type { ScratchPool } from './scratch-pool';
import type { TensorOutput, TensorView } from './tensor-view';

/** Everything one method invocation needs, for one output tensor. */
export interface MergeContext<Parameters, ModelParameters> {
  readonly tensorName: string;
  readonly shape: readonly number[];
  /** The base model's tensor (methods with `base: 'none'` never get one). */
  readonly base?: TensorView;
  /** The other models' tensors, in config order (the base is not among them). */
  readonly models: readonly TensorView[];
  readonly modelParameters: readonly ModelParameters[];
  readonly parameters: Parameters;
  /** Seed for Bernoulli masks (DARE, DELLA) and samples; combined with tensor name and model index. */
  readonly seed: number;
  /** Target elements per row chunk. */
  readonly chunkElements: number;
  readonly output: TensorOutput;
  /** Bytes a method may keep between passes over one tensor (default 256 MiB; 0: recompute every pass). */
  readonly cacheBytes?: number;
  /** Where cached arrays come from when given (kept across tensors; contents stale, not zeroed). */
  readonly scratch?: ScratchPool;
  /** Worker threads for large element-wise work (inputs and output in shared memory); absent: one thread. */
  readonly rowWorkers?: RowWorkerPool;
  /** Methods append human-readable notes here (never console). */
  readonly warnings: string[];
}

export type RawMergeContext = MergeContext<Record<string, unknown>, Record<string, unknown>>;

export interface MergeMethodV1 {
  readonly specificationVersion: 'v1';
  readonly name: string;
  /** Where the algorithm comes from (paper or reference implementation). */
  readonly reference: string;
  readonly description: string;
  /** Whether the method needs `base_model`. */
  readonly base: 'required' | 'optional' | 'none';
  readonly minModels: number;
  readonly maxModels?: number;
  /** Global parameters (the config's top-level / slice `parameters`). */
  readonly parameters: z.ZodObject;
  /** Per-model parameters (each model's `parameters`). */
  readonly modelParameters: z.ZodObject;
  /** Validates parameters (ValidationError naming the field), then merges. */
  doMerge(context: RawMergeContext): void;
}

export interface MergeMethodDefinition<G extends z.ZodObject, M extends z.ZodObject> {
  name: string;
  reference: string;
  description: string;
  base: 'required' | 'optional' | 'none';
  minModels: number;
  maxModels?: number;
  parameters: G;
  modelParameters: M;
  merge(context: MergeContext<z.output<G>, z.output<M>>): void;
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = [path, ...(issue?.path ?? []).map(String)].join('.');
  throw new ValidationError(where, issue?.message ?? 'invalid value');
}

/** Turns a typed definition into a registry entry. */
export function defineMergeMethod<G extends z.ZodObject, M extends z.ZodObject>(
  definition: MergeMethodDefinition<G, M>,
): MergeMethodV1 {
  return {
    specificationVersion: 'v1',
    name: definition.name,
    reference: definition.reference,
    description: definition.description,
    base: definition.base,
    minModels: definition.minModels,
    ...(definition.maxModels !== undefined ? { maxModels: definition.maxModels } : {}),
    parameters: definition.parameters,
    modelParameters: definition.modelParameters,
    doMerge(context) {
      const where = `${definition.name}(${context.tensorName})`;
      if (definition.base === 'required' && !context.base) {
        throw new ValidationError('base_model', `${definition.name} needs a base_model`);
      }
      const count = context.models.length;
      if (
        count < definition.minModels ||
        (definition.maxModels !== undefined && count > definition.maxModels)
      ) {
        const range =
          definition.maxModels === definition.minModels
            ? `exactly ${definition.minModels}`
            : `${definition.minModels}..${definition.maxModels ?? 'any'}`;
        throw new ValidationError(
          'models',
          `${definition.name} takes ${range} non-base models, got ${count}`,
        );
      }
      const parameters = parseOrThrow(definition.parameters, context.parameters, `${where}.parameters`);
      const modelParameters = context.modelParameters.map((value, index) =>
        parseOrThrow(definition.modelParameters, value, `${where}.models[${index}].parameters`),
      );
      definition.merge({ ...context, parameters, modelParameters });
    },
  };
}

/** Names of the parameters a method accepts (global, per model). */
export function parameterNames(method: MergeMethodV1): { global: string[]; model: string[] } {
  return { global: Object.keys(method.parameters.shape), model: Object.keys(method.modelParameters.shape) };
}

export const weightSchema = z.number().finite();
