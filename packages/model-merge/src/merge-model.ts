// Running a merge: open the models, plan per-tensor tasks, stream each through its method (row
// chunks in, row chunks out, encoded straight to the output dtype), write shards + index +
// config.json + tokenizer files + README into a staged folder, rename it into place at the end.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { SafetensorsPlannedWriter, type SafetensorsTensorSpec, ValidationError } from '@meld/tensor-core';
import { stringify } from 'yaml';
import { z } from 'zod';
import { BackgroundIO, piecewise } from './background-io';
import { parseMergeConfig, readMergeConfig } from './config/parse';
import type { MergeConfig } from './config/schema';
import { MergeArena, ReusableBuffer } from './merge-arena';
import { type InputModel, openInputModel } from './model-source';
import { stageOutputFolder } from './output-folder';
import { planMerge } from './plan';
import type { MergeProgressCallback } from './progress';
import { defaultMergeMethods, type MergeMethodRegistry } from './registry';
import { RowWorkerPool } from './row-workers';
import { ScratchPool } from './scratch-pool';
import {
  bufferSizes,
  elementBytes,
  InputBuffers,
  type OutputDType,
  readTaskInputs,
  runTask,
  type TaskContext,
  taskDType,
  taskInputBytes,
} from './task-runner';
import { rowGeometry } from './tensor-view';

export type { OutputDType } from './task-runner';

const dtypeNames: Record<string, OutputDType> = {
  float32: 'f32',
  fp32: 'f32',
  float16: 'f16',
  fp16: 'f16',
  bfloat16: 'bf16',
  bf16: 'bf16',
};
const torchNames: Record<OutputDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

export const tokenizerFiles = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'generation_config.json',
];

export interface MergeModelOptions {
  /** A parsed config, YAML text, or (with configPath) nothing. */
  config?: MergeConfig | string;
  /** Path of the YAML file (models resolve relative to its folder). */
  configPath?: string;
  outputDir: string;
  /** Largest output shard in bytes (default 5e9, mergekit's default). */
  outShardBytes?: number;
  /** Overrides out_dtype / dtype of the config. */
  outDType?: OutputDType;
  seed?: number;
  overwrite?: boolean;
  /** Elements per row chunk (default 2^16: a chunk of every input stays in cache between the fused loops). */
  chunkElements?: number;
  registry?: MergeMethodRegistry;
  onProgress?: MergeProgressCallback;
  /**
   * Threads for the element-wise work on large tensors (default min(2, available cores)); 1 keeps
   * everything on the calling thread. The output bytes do not depend on it.
   */
  threads?: number;
  /**
   * Run the element-wise work on the WebAssembly SIMD kernels where the host has them (default
   * true); false runs the plain JS kernels. The output bytes are the same either way.
   */
  simd?: boolean;
  /**
   * Most bytes the SIMD kernels' memory may take (default and cap 4 GiB, a WebAssembly memory's
   * limit); tensors whose buffers do not fit run on the JS kernels (same bytes).
   */
  arenaBytes?: number;
}

const threadsSchema = z.number().int().min(1).max(64).optional();
const simdSchema = z.boolean().optional();
const arenaBytesSchema = z.number().int().min(1).optional();

export interface MergeModelResult {
  readonly outputDir: string;
  readonly files: readonly string[];
  readonly tensors: number;
  readonly copied: number;
  readonly dropped: readonly string[];
  readonly inputBytes: number;
  readonly outputBytes: number;
  readonly seconds: number;
  /** Tensors whose element-wise work ran on worker threads (0 with threads: 1). */
  readonly parallelTensors: number;
  readonly warnings: readonly string[];
}

const safetensorsNames: Record<OutputDType, SafetensorsTensorSpec['dtype']> = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
};

function outputDTypeOf(config: MergeConfig, override: OutputDType | undefined): OutputDType | undefined {
  if (override) return override;
  const name = config.out_dtype ?? config.dtype;
  return name ? dtypeNames[name] : undefined;
}

function readmeFor(config: MergeConfig, yamlText: string): string {
  const models = config.models?.map((m) => m.model) ?? [
    ...new Set(config.slices!.flatMap((s) => s.sources.map((x) => x.model))),
  ];
  return [
    '---',
    'tags:',
    '- merge',
    '- meld',
    '---',
    '# Merged model',
    '',
    `Merged with \`meld merge\` (@meld/model-merge) using the **${config.merge_method}** method` +
      (config.base_model ? ` with \`${config.base_model}\` as the base.` : '.'),
    '',
    '## Models',
    '',
    ...models.map((m) => `- ${m}`),
    '',
    '## Configuration',
    '',
    '```yaml',
    yamlText.trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** Merges models as a mergekit YAML config says; returns a summary. */
export function mergeModels(options: MergeModelOptions): MergeModelResult {
  const started = performance.now();
  const threadsResult = threadsSchema.safeParse(options.threads);
  if (!threadsResult.success) throw new ValidationError('threads', 'an integer from 1 to 64');
  if (!simdSchema.safeParse(options.simd).success) throw new ValidationError('simd', 'true or false');
  if (!arenaBytesSchema.safeParse(options.arenaBytes).success)
    throw new ValidationError('arenaBytes', 'a positive integer number of bytes');
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const registry = options.registry ?? defaultMergeMethods;
  let config: MergeConfig;
  let yamlText: string;
  if (options.config === undefined) {
    if (!options.configPath) throw new ValidationError('config', 'give config or configPath');
    config = readMergeConfig(options.configPath, { registry });
    yamlText = readFileSync(options.configPath, 'utf8'); // the user's own text, comments included
  } else if (typeof options.config === 'string') {
    yamlText = options.config;
    config = parseMergeConfig(options.config, { registry, file: options.configPath ?? 'merge config' });
  } else {
    config = options.config;
    yamlText = stringify(config);
  }
  const configFolder = options.configPath ? dirname(options.configPath) : undefined;
  const references = new Set<string>();
  if (config.base_model) references.add(config.base_model);
  for (const entry of config.models ?? []) references.add(entry.model);
  for (const slice of config.slices ?? []) {
    if (slice.base_model) references.add(slice.base_model);
    for (const source of slice.sources) references.add(source.model);
  }
  const tokenizerSource = config.tokenizer?.source ?? config.tokenizer_source;
  const models = new Map<string, InputModel>();
  const warnings: string[] = [];
  let staged: ReturnType<typeof stageOutputFolder> | undefined;
  let writer: SafetensorsPlannedWriter | undefined;
  // Everything the kernels touch lives in one WebAssembly memory when the host has SIMD (else JS).
  const arena = options.simd === false ? undefined : MergeArena.create(options.arenaBytes);
  const rowWorkers = threads > 1 ? new RowWorkerPool(threads, arena) : undefined;
  try {
    for (const reference of references) models.set(reference, openInputModel(reference, configFolder));
    const plan = planMerge({ config, models, registry });
    warnings.push(...plan.warnings);
    const inputBytesTotal = plan.tasks.reduce((sum, task) => sum + task.inputBytes, 0);
    options.onProgress?.({ type: 'plan-ready', tensors: plan.tasks.length, inputBytes: inputBytesTotal });
    staged = stageOutputFolder(options.outputDir, options.overwrite);
    const outDType = outputDTypeOf(config, options.outDType);
    const dtypes = plan.tasks.map((task) => taskDType(task, models, outDType));
    // every output's name, dtype and shape is known now: the shards are laid out up front and each
    // tensor is written at its offset as soon as it is computed, from one reused output buffer
    writer = new SafetensorsPlannedWriter(
      staged.path,
      plan.tasks.map((task, index) => ({
        name: task.output,
        dtype: safetensorsNames[dtypes[index]!],
        shape: task.shape,
      })),
      {
        maxShardBytes: options.outShardBytes ?? 5_000_000_000,
        metadata: { format: 'pt' },
        indexMetadata: { merge_tool: 'meld' },
      },
    );
    const seed = options.seed ?? config.random_seed ?? 0;
    // the SIMD kernels run best on chunks whose f32 buffers all stay in L2 (16K elements); the JS
    // kernels amortise their per-chunk overhead over 64K
    const chunkElements = options.chunkElements ?? (arena ? 1 << 14 : 1 << 16);
    const shared = rowWorkers !== undefined;
    const scratch = new ScratchPool({ shared, ...(arena ? { arena } : {}) });
    const context: TaskContext = { seed, chunkElements, warnings, scratch, rowWorkers };
    // With row workers, the workers read each task's inputs (in parallel, straight from the files)
    // and compute it while the main thread writes the previous output in pieces: two output
    // buffers used in turn. One thread: everything here, one output buffer.
    const io = rowWorkers ? new BackgroundIO() : undefined;
    if (rowWorkers) rowWorkers.background = io;
    const reader = rowWorkers?.simd ? rowWorkers : undefined;
    const inputs = new InputBuffers(arena, shared);
    const outputs = Array.from({ length: io ? 2 : 1 }, () => new ReusableBuffer(arena, shared));
    if (arena) {
      // reserve the arena for the sizes nearly every task needs; larger tensors use heap buffers
      const sizes = bufferSizes(
        plan.tasks.map((task, index) => ({
          inputs: taskInputBytes(task, models),
          output: rowGeometry(task.shape).size * elementBytes[dtypes[index]!],
        })),
        outputs.length,
        arena.largeBufferBytes,
      );
      for (const output of outputs) output.reserve(sizes.output);
      sizes.inputs.forEach((bytes, slot) => {
        inputs.reserve(slot, bytes);
      });
    }
    const writes: number[] = [];
    const tasks = plan.tasks;
    let inputsInUse = false;
    let inputBytesDone = 0;
    let outputBytes = 0;
    for (const [index, task] of tasks.entries()) {
      options.onProgress?.({ type: 'tensor-start', name: task.output, index, total: tasks.length });
      if (inputsInUse) io?.drain(); // a copied tensor's pending write reads from the input buffers
      const tensors = readTaskInputs(task, models, inputs, reader);
      const output = outputs[index % outputs.length]!;
      if (index >= outputs.length) io?.finish(writes[index - outputs.length]!); // this buffer's last write
      const bytes = runTask(task, tensors, dtypes[index]!, output, context);
      inputsInUse = task.kind === 'copy';
      if (io)
        writes[index] = io.add(
          piecewise(bytes.byteLength, (offset, length) =>
            writer!.writeAt(task.output, offset, bytes.subarray(offset, offset + length)),
          ),
        );
      else writer.write(task.output, bytes);
      inputBytesDone += task.inputBytes;
      outputBytes += bytes.byteLength;
      options.onProgress?.({
        type: 'tensor-end',
        name: task.output,
        index,
        total: tasks.length,
        inputBytesDone,
        inputBytesTotal,
        outputBytes,
      });
    }
    io?.drain();
    const written = writer.finish();
    writer = undefined;
    options.onProgress?.({ type: 'write-finished', files: written.files });
    // config.json from the reference model, with the output layer count and dtype
    const reference = models.get(plan.referenceModel)!;
    if (reference.config) {
      const outConfig: Record<string, unknown> = { ...reference.config };
      if (plan.outputLayers !== undefined && typeof outConfig.num_hidden_layers === 'number')
        outConfig.num_hidden_layers = plan.outputLayers;
      if (outDType) outConfig.torch_dtype = torchNames[outDType];
      const vocabulary = plan.tasks.find((t) => t.rowLimit !== undefined && /embed/.test(t.output))?.rowLimit;
      if (vocabulary !== undefined && typeof outConfig.vocab_size === 'number')
        outConfig.vocab_size = vocabulary;
      writeFileSync(join(staged.path, 'config.json'), `${JSON.stringify(outConfig, null, 2)}\n`);
    } else warnings.push(`'${plan.referenceModel}' has no config.json; none written`);
    const tokenizerModel =
      tokenizerSource === undefined || tokenizerSource === 'base'
        ? reference
        : (models.get(tokenizerSource) ?? openInputModel(tokenizerSource, configFolder));
    let copiedTokenizer = 0;
    for (const file of tokenizerFiles) {
      const from = join(tokenizerModel.folder, file);
      if (existsSync(from)) {
        copyFileSync(from, join(staged.path, file));
        copiedTokenizer++;
      }
    }
    if (copiedTokenizer === 0) warnings.push(`no tokenizer files found in '${tokenizerModel.reference}'`);
    writeFileSync(
      join(staged.path, 'mergekit_config.yml'),
      yamlText.endsWith('\n') ? yamlText : `${yamlText}\n`,
    );
    writeFileSync(join(staged.path, 'README.md'), readmeFor(config, yamlText));
    staged.commit();
    options.onProgress?.({ type: 'merge-finished', outputDir: options.outputDir });
    return {
      outputDir: options.outputDir,
      files: written.files,
      tensors: plan.tasks.length,
      copied: plan.tasks.filter((t) => t.kind === 'copy').length,
      dropped: plan.dropped,
      inputBytes: inputBytesTotal,
      outputBytes,
      seconds: (performance.now() - started) / 1000,
      parallelTensors: rowWorkers?.jobs ?? 0,
      warnings,
    };
  } catch (error) {
    writer?.abort();
    staged?.abort();
    throw error;
  } finally {
    rowWorkers?.close();
    for (const model of models.values()) model.source.close();
  }
}
