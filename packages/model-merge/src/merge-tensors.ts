// Merging in memory: one call per tensor, for users and tests that hold Tensors or Float32Arrays.
import { Tensor } from '@meld/tensor-core';
import { defaultMergeMethods, type MergeMethodRegistry } from './registry';
import { assertSameShape, float32Output, type TensorView, tensorView } from './tensor-view';

export interface MergeTensorsOptions {
  method: string;
  /** The other models' tensors (not the base). */
  models: readonly (Tensor | Float32Array)[];
  base?: Tensor | Float32Array;
  shape?: readonly number[];
  parameters?: Record<string, unknown>;
  modelParameters?: readonly Record<string, unknown>[];
  seed?: number;
  tensorName?: string;
  chunkElements?: number;
  /** Bytes a method may cache between passes (see MergeContext.cacheBytes). */
  cacheBytes?: number;
  registry?: MergeMethodRegistry;
}

export interface MergeTensorsResult {
  tensor: Tensor;
  warnings: string[];
}

function asView(value: Tensor | Float32Array, shape: readonly number[] | undefined): TensorView {
  return tensorView(value instanceof Tensor ? value : Tensor.fromF32(value, shape ?? [value.length]));
}

/** Merges one tensor with a registered method; the result is f32. */
export function mergeTensors(options: MergeTensorsOptions): MergeTensorsResult {
  const registry = options.registry ?? defaultMergeMethods;
  const method = registry.get(options.method);
  const models = options.models.map((m) => asView(m, options.shape));
  const base = options.base ? asView(options.base, options.shape) : undefined;
  const shape = (base ?? models[0])?.shape ?? options.shape ?? [0];
  for (const [index, view] of models.entries()) assertSameShape(`models[${index}]`, shape, view.shape);
  const output = float32Output(shape);
  const warnings: string[] = [];
  method.doMerge({
    tensorName: options.tensorName ?? 'tensor',
    shape,
    ...(base ? { base } : {}),
    models,
    modelParameters: options.modelParameters ?? models.map(() => ({})),
    parameters: options.parameters ?? {},
    seed: options.seed ?? 0,
    chunkElements: options.chunkElements ?? 1 << 18,
    ...(options.cacheBytes !== undefined ? { cacheBytes: options.cacheBytes } : {}),
    output,
    warnings,
  });
  return { tensor: Tensor.fromF32(output.data, shape), warnings };
}
