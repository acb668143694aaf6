// merge_and_unload: W + s·B·A written into a full model (PEFT's merge_and_unload; rsLoRA-aware
// through tensor-core's scale), streamed tensor by tensor into a staged output folder.
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyAdapterToWeight,
  encodeBf16,
  encodeF16,
  type LoraAdapter,
  openSafetensorsModel,
  readPeftAdapter,
  SafetensorsShardWriter,
  Tensor,
} from '@meld/tensor-core';
import { MissingTensorError, TensorShapeMismatchError } from '../errors';
import { tokenizerFiles } from '../merge-model';
import { stageOutputFolder } from '../output-folder';
import type { MergeProgressCallback } from '../progress';

export interface ApplyLoraOptions {
  /** Base model folder (safetensors). */
  base: string;
  /** Adapter folder or an adapter in memory. */
  adapter: string | LoraAdapter;
  outputDir: string;
  /** Multiplies every delta (default 1). */
  multiplier?: number;
  outShardBytes?: number;
  overwrite?: boolean;
  onProgress?: MergeProgressCallback;
}

export interface ApplyLoraResult {
  readonly outputDir: string;
  readonly files: readonly string[];
  readonly modulesApplied: number;
  readonly tensorsReplaced: number;
}

function castTo(dtype: string, values: Float32Array, shape: readonly number[]): Tensor {
  if (dtype === 'bf16') return Tensor.fromBytes('bf16', shape, encodeBf16(values));
  if (dtype === 'f16') return Tensor.fromBytes('f16', shape, encodeF16(values));
  return Tensor.fromF32(values, shape);
}

/** Writes base + adapter as a full model (config.json and tokenizer files copied from the base). */
export function applyLoraAdapter(options: ApplyLoraOptions): ApplyLoraResult {
  const adapter = typeof options.adapter === 'string' ? readPeftAdapter(options.adapter) : options.adapter;
  const model = openSafetensorsModel(options.base);
  const folder = statSync(options.base).isDirectory() ? options.base : join(options.base, '..');
  const byWeight = new Map([...adapter.modules.keys()].map((module) => [`${module}.weight`, module]));
  for (const name of byWeight.keys()) {
    if (!model.has(name)) {
      model.close();
      throw new MissingTensorError(name, options.base, ' (the adapter targets it)');
    }
  }
  for (const name of adapter.extra.keys()) {
    if (!model.has(name)) {
      model.close();
      throw new MissingTensorError(name, options.base, ' (the adapter saves a replacement for it)');
    }
  }
  const staged = stageOutputFolder(options.outputDir, options.overwrite);
  const writer = new SafetensorsShardWriter(staged.path, {
    maxShardBytes: options.outShardBytes ?? 5_000_000_000,
    metadata: { format: 'pt' },
  });
  try {
    let applied = 0;
    let replaced = 0;
    const names = model.names;
    let inputBytesDone = 0;
    const inputBytesTotal = names.reduce((sum, n) => sum + model.info(n).byteLength, 0);
    options.onProgress?.({ type: 'plan-ready', tensors: names.length, inputBytes: inputBytesTotal });
    let outputBytes = 0;
    for (const [index, name] of names.entries()) {
      options.onProgress?.({ type: 'tensor-start', name, index, total: names.length });
      const tensor = model.readTensor(name);
      let out = tensor;
      const module = byWeight.get(name);
      const saved = adapter.extra.get(name);
      if (module) {
        const merged = applyAdapterToWeight(adapter, module, tensor, options.multiplier ?? 1);
        out = castTo(tensor.dtype, merged.toFloat32(), tensor.shape);
        applied++;
      } else if (saved) {
        if (saved.size !== tensor.size)
          throw new TensorShapeMismatchError(
            name,
            'adapter modules_to_save',
            tensor.shape,
            saved.shape,
            options.base,
          );
        out = castTo(tensor.dtype, saved.toFloat32(), tensor.shape);
        replaced++;
      }
      writer.add(name, out);
      inputBytesDone += model.info(name).byteLength;
      outputBytes += out.byteLength;
      options.onProgress?.({
        type: 'tensor-end',
        name,
        index,
        total: names.length,
        inputBytesDone,
        inputBytesTotal,
        outputBytes,
      });
    }
    const written = writer.finish();
    for (const file of ['config.json', ...tokenizerFiles]) {
      if (existsSync(join(folder, file))) copyFileSync(join(folder, file), join(staged.path, file));
    }
    staged.commit();
    options.onProgress?.({ type: 'merge-finished', outputDir: options.outputDir });
    return {
      outputDir: options.outputDir,
      files: written.files,
      modulesApplied: applied,
      tensorsReplaced: replaced,
    };
  } catch (error) {
    writer.abort();
    staged.abort();
    throw error;
  } finally {
    model.close();
  }
}
