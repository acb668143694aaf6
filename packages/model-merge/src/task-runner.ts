// One merge task at a time: read its input tensors into reused buffers (now, or queued as
// background IO while the row workers compute the previous task), run its method chunk by chunk
// into the output buffer encoded to the output dtype, and hand back the bytes to write.
import { encodeBf16Into, encodeF16Into, type Tensor } from '@meld/tensor-core';
import { type BackgroundIO, piecewise } from './background-io';
import { commonArena, type MergeArena, ReusableBuffer } from './merge-arena';
import { rowWorkerMinimumElements } from './methods/chunks';
import type { InputModel } from './model-source';
import type { MergeTask } from './plan';
import type { RowWorkerPool } from './row-workers';
import type { ScratchPool } from './scratch-pool';
import { rowGeometry, type TensorOutput, tensorView } from './tensor-view';

export type OutputDType = 'f32' | 'f16' | 'bf16';

export const elementBytes: Record<OutputDType, number> = { f32: 4, f16: 2, bf16: 2 };

export function nativeDType(safetensorsDType: string): OutputDType {
  if (safetensorsDType === 'BF16' || safetensorsDType === 'bf16') return 'bf16';
  if (safetensorsDType === 'F16' || safetensorsDType === 'f16') return 'f16';
  return 'f32';
}

/** The output dtype of a task: the override, else the first input's own. */
export function taskDType(
  task: MergeTask,
  models: ReadonlyMap<string, InputModel>,
  outDType: OutputDType | undefined,
): OutputDType {
  const firstInput = task.base ?? task.inputs[0]!;
  return outDType ?? nativeDType(models.get(firstInput.model)!.source.info(firstInput.tensor).dtype);
}

/**
 * The output tensor in the target dtype, filled row chunk by row chunk into `bytes` (a buffer
 * reused across tensors: the previous tensor written from it has been written by then).
 */
export function encodedOutput(dtype: OutputDType, shape: readonly number[], bytes: Uint8Array): TensorOutput {
  const { size, rowLength } = rowGeometry(shape);
  const shared = bytes.buffer instanceof SharedArrayBuffer;
  if (dtype === 'f32') {
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, size);
    return {
      ...(shared ? { raw: { dtype, array: data } } : {}),
      write: (rowStart, values) => data.set(values, rowStart * rowLength),
    };
  }
  const words = new Uint16Array(bytes.buffer, bytes.byteOffset, size);
  const encode = dtype === 'bf16' ? encodeBf16Into : encodeF16Into;
  return {
    ...(shared ? { raw: { dtype, array: words } } : {}),
    write(rowStart, values) {
      const start = rowStart * rowLength;
      const target = words.subarray(start, start + values.length);
      const arena = dtype === 'bf16' ? commonArena(values, target) : undefined;
      if (arena) arena.kernels.encodeBf16(target.byteOffset, values.byteOffset, values.length);
      else encode(values, target);
    },
  };
}

/** One set of reused buffers: one per input slot (slot 0: the base or a copy's input; then the models) and the output. */
export class TaskBuffers {
  private readonly inputs: ReusableBuffer[] = [];
  readonly output: ReusableBuffer;

  constructor(
    private readonly arena: MergeArena | undefined,
    private readonly shared: boolean,
  ) {
    this.output = new ReusableBuffer(arena, shared);
  }

  input(slot: number, byteLength: number): Uint8Array {
    this.inputs[slot] ??= new ReusableBuffer(this.arena, this.shared);
    return this.inputs[slot].get(byteLength);
  }
}

/** A task's input tensors, slot by slot (slot 0 empty for a merge without base), once `io.finish(ticket)` has run. */
export interface TaskTensors {
  readonly tensors: () => (Tensor | undefined)[];
  /** The ticket of the last read queued (0: everything was read at once). */
  readonly ticket: number;
}

/**
 * Reads a task's inputs into `buffers`: queued on `io` in 8 MiB pieces where the model can read a
 * tensor in pieces (call `io.drain()` before using them), otherwise right now.
 */
export function readTaskInputs(
  task: MergeTask,
  models: ReadonlyMap<string, InputModel>,
  buffers: TaskBuffers,
  io: BackgroundIO | undefined,
): TaskTensors {
  const reads = task.kind === 'copy' ? [task.inputs[0]!] : [task.base, ...task.inputs];
  let ticket = 0;
  const tensors = reads.map((input, slot) => {
    if (input === undefined) return () => undefined;
    const source = models.get(input.model)!.source;
    const into = buffers.input(slot, source.info(input.tensor).byteLength);
    if (io === undefined || source.readBytesAt === undefined || source.tensorFromBytes === undefined) {
      io?.drain(); // what is queued may still read from these buffers (a copied tensor's write)
      const tensor = source.readTensor(input.tensor, into);
      return () => tensor;
    }
    ticket = io.add(
      piecewise(into.byteLength, (offset, length) =>
        source.readBytesAt!(input.tensor, offset, into.subarray(offset, offset + length)),
      ),
    );
    return () => source.tensorFromBytes!(input.tensor, into);
  });
  return {
    ticket,
    tensors: () =>
      tensors.map((tensor) => {
        const value = tensor();
        return value !== undefined && task.rowLimit !== undefined && value.shape[0]! > task.rowLimit
          ? value.rows(0, task.rowLimit)
          : value;
      }),
  };
}

export interface TaskContext {
  readonly seed: number;
  readonly chunkElements: number;
  readonly warnings: string[];
  readonly scratch: ScratchPool;
  readonly rowWorkers: RowWorkerPool | undefined;
}

/** Runs one task on its input tensors; returns the output's bytes (in `output` or, for a plain copy, the input's). */
export function runTask(
  task: MergeTask,
  tensors: readonly (Tensor | undefined)[],
  dtype: OutputDType,
  output: ReusableBuffer,
  context: TaskContext,
): Uint8Array {
  const outputBytes = output.get(rowGeometry(task.shape).size * elementBytes[dtype]);
  if (task.kind === 'copy') {
    const tensor = tensors[0]!;
    if (tensor.dtype === dtype) return tensor.bytes();
    encodedOutput(dtype, task.shape, outputBytes).write(0, tensor.toFloat32());
    return outputBytes;
  }
  const [baseTensor, ...inputTensors] = tensors;
  const { rowWorkers, scratch } = context;
  const shared = rowWorkers !== undefined && rowGeometry(task.shape).size >= rowWorkerMinimumElements;
  task.method.doMerge({
    tensorName: task.output,
    shape: task.shape,
    ...(baseTensor ? { base: tensorView(baseTensor) } : {}),
    models: inputTensors.map((tensor) => tensorView(tensor!)),
    modelParameters: task.modelParameters,
    parameters: task.parameters,
    seed: context.seed,
    chunkElements: context.chunkElements,
    output: encodedOutput(dtype, task.shape, outputBytes),
    warnings: context.warnings,
    scratch,
    // the SIMD kernels recompute a chunk's deltas from 16-bit inputs faster than they would stream
    // a cached f32 copy of them back from memory
    ...(scratch.arena ? { cacheBytes: 0 } : {}),
    ...(shared ? { rowWorkers } : {}),
  });
  return outputBytes;
}
