// Planning a merge: one task per output tensor, naming its inputs (model + tensor name), the
// method and the per-tensor parameters after mergekit's precedence and gradient/filter rules.
import { ValidationError } from '@meld/tensor-core';
import { resolveParameters } from './config/resolve';
import type { MergeConfig, ParameterSettings } from './config/schema';
import {
  ArchitectureMismatchError,
  MissingTensorError,
  TensorDTypeError,
  TensorShapeMismatchError,
  UnmatchedTensorError,
} from './errors';
import type { MergeMethodV1 } from './method';
import type { InputModel } from './model-source';
import type { MergeMethodRegistry } from './registry';

const layerPattern = /^(.*?(?:^|\.)layers\.)(\d+)(\..*)$/;
const mergeableDTypes = new Set(['f32', 'f16', 'bf16', 'F32', 'F16', 'BF16', 'F64', 'F8_E4M3', 'F8_E5M2']);

export function layerIndexOf(name: string): number | undefined {
  const match = layerPattern.exec(name);
  return match ? Number(match[2]) : undefined;
}

export function withLayerIndex(name: string, index: number): string {
  return name.replace(
    layerPattern,
    (_, head: string, _old: string, tail: string) => `${head}${index}${tail}`,
  );
}

/** Embeddings and output heads: the only tensors whose first dimension may differ across models. */
export function isVocabularyTensor(name: string): boolean {
  return /embed_tokens|lm_head|wte/.test(name);
}

/** Tensors before the layers (embeddings) get t = 0, those after (final norm, lm_head) t = 1, as in mergekit. */
function outerT(name: string): number {
  return /embed|wte|wpe/.test(name) ? 0 : 1;
}

export interface TaskInput {
  readonly model: string;
  readonly tensor: string;
}

export interface MergeTask {
  readonly kind: 'merge' | 'copy';
  readonly output: string;
  readonly shape: readonly number[];
  readonly method: MergeMethodV1;
  readonly base?: TaskInput;
  readonly inputs: readonly TaskInput[];
  readonly parameters: Record<string, unknown>;
  readonly modelParameters: readonly Record<string, unknown>[];
  /** Bytes read from the inputs. */
  readonly inputBytes: number;
  /** Only the first rows of every input are merged (embeddings whose vocabulary sizes differ). */
  readonly rowLimit?: number;
}

export interface MergePlan {
  readonly tasks: readonly MergeTask[];
  /** Model whose config.json (and, by default, tokenizer) the output takes. */
  readonly referenceModel: string;
  readonly outputLayers: number | undefined;
  readonly warnings: readonly string[];
  readonly dropped: readonly string[];
}

interface Group {
  readonly method: MergeMethodV1;
  readonly base?: string;
  /** (model, parameter chain) per non-base input; `layerOffset` maps output → source layer. */
  readonly sources: readonly {
    model: string;
    chain: (ParameterSettings | undefined)[];
    layerShift: number;
  }[];
  readonly baseLayerShift: number;
  readonly globalChain: (ParameterSettings | undefined)[];
}

function numberOfLayers(model: InputModel): number | undefined {
  const configured = model.config?.num_hidden_layers;
  if (typeof configured === 'number') return configured;
  let max = -1;
  for (const name of model.source.names) max = Math.max(max, layerIndexOf(name) ?? -1);
  return max >= 0 ? max + 1 : undefined;
}

function checkArchitectures(models: ReadonlyMap<string, InputModel>): void {
  const list = [...models.values()];
  const first = list[0]!;
  const architectures = JSON.stringify(first.config?.architectures ?? null);
  for (const model of list.slice(1)) {
    const other = JSON.stringify(model.config?.architectures ?? null);
    if (first.config && model.config && other !== architectures) {
      throw new ArchitectureMismatchError(
        `architectures differ: '${first.reference}' is ${architectures}, '${model.reference}' is ${other}`,
        [first.reference, model.reference],
      );
    }
  }
}

export interface PlanOptions {
  config: MergeConfig;
  models: ReadonlyMap<string, InputModel>;
  registry: MergeMethodRegistry;
}

export function planMerge(options: PlanOptions): MergePlan {
  const { config, models, registry } = options;
  const method = registry.get(config.merge_method);
  const model = (reference: string) => {
    const found = models.get(reference);
    if (!found) throw new ValidationError('models', `model '${reference}' was not opened`);
    return found;
  };
  checkArchitectures(models);
  const warnings: string[] = [];
  const dropped: string[] = [];
  const tasks: MergeTask[] = [];
  const usesBase = method.base !== 'none';
  const unmatched: { tensor: string; models: string[] }[] = [];

  const makeTask = (
    output: string,
    group: Group,
    sourceName: (shift: number) => string,
    t: number,
  ): MergeTask | undefined => {
    const baseInput =
      usesBase && group.base ? { model: group.base, tensor: sourceName(group.baseLayerShift) } : undefined;
    const inputs = group.sources.map((s) => ({ model: s.model, tensor: sourceName(s.layerShift) }));
    const all = [...(baseInput ? [baseInput] : []), ...inputs];
    const first = all[0]!;
    const firstModel = model(first.model);
    if (!firstModel.source.has(first.tensor)) throw new MissingTensorError(first.tensor, first.model);
    const firstInfo = firstModel.source.info(first.tensor);
    let inputBytes = 0;
    let rowLimit: number | undefined;
    for (const input of all) {
      const source = model(input.model).source;
      if (!source.has(input.tensor)) {
        if (config.unmatched === 'error')
          throw new MissingTensorError(input.tensor, input.model, ` (needed for '${output}')`);
        if (config.unmatched === 'drop') {
          dropped.push(output);
          return undefined;
        }
        return copyTask(output, first, firstInfo, group.method);
      }
      const info = source.info(input.tensor);
      const sameShape =
        info.shape.length === firstInfo.shape.length && info.shape.every((d, i) => d === firstInfo.shape[i]);
      const vocabularyOnly =
        !sameShape &&
        isVocabularyTensor(output) &&
        info.shape.length === firstInfo.shape.length &&
        info.shape.every((d, i) => i === 0 || d === firstInfo.shape[i]);
      if (vocabularyOnly) {
        // mergekit's rectify_embed: task-arithmetic methods keep the base's vocabulary, the others
        // the rows every model has; rows beyond the limit are cut (with a warning)
        const limit = baseInput
          ? firstInfo.shape[0]!
          : Math.min(rowLimit ?? firstInfo.shape[0]!, info.shape[0]!);
        if (info.shape[0]! < limit) {
          throw new TensorShapeMismatchError(
            input.tensor,
            input.model,
            firstInfo.shape,
            info.shape,
            first.model,
          );
        }
        rowLimit = Math.min(rowLimit ?? firstInfo.shape[0]!, limit);
      } else if (!sameShape) {
        throw new TensorShapeMismatchError(
          input.tensor,
          input.model,
          firstInfo.shape,
          info.shape,
          first.model,
        );
      }
      if (!mergeableDTypes.has(info.dtype)) {
        throw new TensorDTypeError(
          input.tensor,
          input.model,
          info.dtype,
          'only floating-point tensors can be merged',
        );
      }
      inputBytes += info.byteLength;
    }
    const globalNames = Object.keys(group.method.parameters.shape);
    const modelNames = Object.keys(group.method.modelParameters.shape);
    const shape = rowLimit === undefined ? firstInfo.shape : [rowLimit, ...firstInfo.shape.slice(1)];
    if (rowLimit !== undefined) {
      warnings.push(`'${output}': vocabulary sizes differ across models; merged the first ${rowLimit} rows`);
    }
    return {
      kind: 'merge',
      output,
      shape,
      ...(rowLimit !== undefined ? { rowLimit } : {}),
      method: group.method,
      ...(baseInput ? { base: baseInput } : {}),
      inputs,
      parameters: resolveParameters(globalNames, group.globalChain, output, t),
      modelParameters: group.sources.map((s) => resolveParameters(modelNames, s.chain, output, t)),
      inputBytes,
    };
  };

  const copyTask = (
    output: string,
    input: TaskInput,
    info: { shape: readonly number[]; byteLength: number },
    m: MergeMethodV1,
  ): MergeTask => ({
    kind: 'copy',
    output,
    shape: info.shape,
    method: m,
    inputs: [input],
    parameters: {},
    modelParameters: [],
    inputBytes: info.byteLength,
  });

  let referenceModel: string;
  let outputLayers: number | undefined;
  if (config.models) {
    const entries = config.models.filter((entry) => !(usesBase && entry.model === config.base_model));
    const group: Group = {
      method,
      ...(config.base_model ? { base: config.base_model } : {}),
      sources: entries.map((entry) => ({
        model: entry.model,
        chain: [entry.parameters, config.parameters],
        layerShift: 0,
      })),
      baseLayerShift: 0,
      globalChain: [config.parameters],
    };
    referenceModel = config.base_model ?? config.models[0]!.model;
    const reference = model(referenceModel);
    outputLayers = numberOfLayers(reference);
    const involved = [
      ...new Set([...(usesBase && group.base ? [group.base] : []), ...group.sources.map((s) => s.model)]),
    ];
    for (const name of reference.source.names) {
      const layer = layerIndexOf(name);
      const t =
        layer === undefined
          ? outerT(name)
          : outputLayers && outputLayers > 1
            ? layer / (outputLayers - 1)
            : 1;
      const task = makeTask(name, group, () => name, t);
      if (task) tasks.push(task);
    }
    // tensors that other models have and the reference lacks
    const known = new Set(reference.source.names);
    const extra = new Map<string, string[]>();
    for (const reference of involved) {
      for (const name of model(reference).source.names) {
        if (!known.has(name)) extra.set(name, [...(extra.get(name) ?? []), reference]);
      }
    }
    for (const [tensor, holders] of extra) {
      if (config.unmatched === 'drop') dropped.push(tensor);
      else if (config.unmatched === 'copy_base') {
        warnings.push(
          `'${tensor}' is not in '${referenceModel}'; dropped (copy_base has no base tensor to copy)`,
        );
        dropped.push(tensor);
      } else unmatched.push({ tensor, models: holders });
    }
  } else {
    const slices = config.slices!;
    let offset = 0;
    const plannedSources = new Set<string>();
    referenceModel = config.base_model ?? slices[0]!.sources[0]!.model;
    const layerGroups: {
      group: Group;
      firstSource: { model: string; start: number };
      length: number;
      offset: number;
    }[] = [];
    for (const [sliceIndex, slice] of slices.entries()) {
      const sliceMethod = registry.get(
        slice.merge_method ?? config.merge_method,
        `slices[${sliceIndex}].merge_method`,
      );
      const sliceUsesBase = sliceMethod.base !== 'none';
      const baseReference = slice.base_model ?? config.base_model;
      const baseSource =
        sliceUsesBase && baseReference ? slice.sources.find((s) => s.model === baseReference) : undefined;
      if (sliceUsesBase && baseReference && !baseSource) {
        throw new ValidationError(
          `slices[${sliceIndex}].base_model`,
          `base model '${baseReference}' must be one of the slice's sources`,
        );
      }
      const nonBase = slice.sources.filter((s) => s !== baseSource);
      const start = (baseSource ?? slice.sources[0]!).layer_range[0];
      const length = slice.sources[0]!.layer_range[1] - slice.sources[0]!.layer_range[0];
      const group: Group = {
        method: sliceMethod,
        ...(baseSource ? { base: baseSource.model } : {}),
        sources: nonBase.map((s) => ({
          model: s.model,
          chain: [s.parameters, slice.parameters, config.parameters],
          layerShift: s.layer_range[0],
        })),
        baseLayerShift: baseSource?.layer_range[0] ?? 0,
        globalChain: [slice.parameters, config.parameters],
      };
      for (const s of slice.sources) {
        const layers = numberOfLayers(model(s.model));
        if (layers !== undefined && s.layer_range[1] > layers) {
          throw new ValidationError(
            `slices[${sliceIndex}].sources`,
            `layer_range [${s.layer_range}] is past the ${layers} layers of '${s.model}'`,
          );
        }
        plannedSources.add(s.model);
      }
      layerGroups.push({
        group,
        firstSource: { model: (baseSource ?? slice.sources[0]!).model, start },
        length,
        offset,
      });
      offset += length;
    }
    outputLayers = offset;
    const first = layerGroups[0]!;
    const last = layerGroups[layerGroups.length - 1]!;
    const templateModel = model(first.firstSource.model);
    const outer = templateModel.source.names.filter((name) => layerIndexOf(name) === undefined);
    const pre = outer.filter((name) => outerT(name) === 0);
    const post = outer.filter((name) => outerT(name) === 1);
    for (const name of pre) {
      const task = makeTask(name, first.group, () => name, 0);
      if (task) tasks.push(task);
    }
    for (const { group, firstSource, length, offset: layerOffset } of layerGroups) {
      const layerNames = model(firstSource.model).source.names.filter(
        (name) => layerIndexOf(name) === firstSource.start,
      );
      for (let index = 0; index < length; index++) {
        const t = length > 1 ? index / (length - 1) : 1;
        for (const name of layerNames) {
          const output = withLayerIndex(name, layerOffset + index);
          const task = makeTask(output, group, (shift) => withLayerIndex(name, shift + index), t);
          if (task) tasks.push(task);
        }
      }
    }
    for (const name of post) {
      const task = makeTask(name, last.group, () => name, 1);
      if (task) tasks.push(task);
    }
  }
  if (unmatched.length > 0) throw new UnmatchedTensorError(unmatched);
  return { tasks, referenceModel, outputLayers, warnings, dropped };
}
