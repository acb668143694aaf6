// One merge task at a time: read its input tensors into reused buffers (by the row workers, in
// parallel, where the model says where the bytes lie), run its method chunk by chunk into an
// output buffer encoded to the output dtype, and hand back the bytes to write.
import { encodeBf16Into, encodeF16Into, type Tensor } from '@meld/tensor-core';
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

/** Reused input buffers, one per input slot (slot 0: the base or a copy's input; then the models). */
export class InputBuffers {
  private readonly inputs: ReusableBuffer[] = [];

  constructor(
    private readonly arena: MergeArena | undefined,
    private readonly shared: boolean,
  ) {}

  private slot(slot: number): ReusableBuffer {
    this.inputs[slot] ??= new ReusableBuffer(this.arena, this.shared);
    return this.inputs[slot];
  }

  input(slot: number, byteLength: number): Uint8Array {
    return this.slot(slot).get(byteLength);
  }

  reserve(slot: number, byteLength: number): void {
    this.slot(slot).reserve(byteLength);
  }
}

/** A task's inputs by slot: slot 0 the base (absent without one) or a copy's input, then the models. */
function taskReads(task: MergeTask): (MergeTask['base'] | undefined)[] {
  return task.kind === 'copy' ? [task.inputs[0]!] : [task.base, ...task.inputs];
}

/** Bytes of each input slot of a task (see taskReads). */
export function taskInputBytes(task: MergeTask, models: ReadonlyMap<string, InputModel>): number[] {
  return taskReads(task).map((input) =>
    input ? models.get(input.model)!.source.info(input.tensor).byteLength : 0,
  );
}

/**
 * How large to reserve each input slot and the output buffers in an arena of `budget` bytes: the
 * largest sizes for which every task but the biggest outliers (a huge embedding) fits, so that
 * those outliers, not every other tensor, are the ones left to heap buffers and the JS kernels.
 */
export function bufferSizes(
  tasks: readonly { readonly inputs: readonly number[]; readonly output: number }[],
  outputBuffers: number,
  budget: number,
): { inputs: number[]; output: number } {
  const order = [...tasks].sort(
    (a, b) =>
      b.inputs.reduce((x, y) => x + y, 0) + b.output - (a.inputs.reduce((x, y) => x + y, 0) + a.output),
  );
  for (let skip = 0; skip < order.length; skip++) {
    const kept = order.slice(skip);
    const inputs: number[] = [];
    let output = 0;
    for (const task of kept) {
      task.inputs.forEach((bytes, slot) => {
        inputs[slot] = Math.max(inputs[slot] ?? 0, bytes);
      });
      output = Math.max(output, task.output);
    }
    if (inputs.reduce((x, y) => x + y, 0) + outputBuffers * output <= budget) return { inputs, output };
  }
  return { inputs: [], output: 0 };
}

/** Reads byte ranges of files into arena buffers on other threads (RowWorkerPool.readFiles). */
export interface ParallelReader {
  /** Whether `into` is a buffer the reader's threads can fill (one in its arena). */
  canRead(into: Uint8Array): boolean;
  readFiles(pieces: readonly FilePiece[]): void;
}

export interface FilePiece {
  readonly path: string;
  readonly offset: number;
  readonly into: Uint8Array;
}

/** Inputs smaller than this are read on the calling thread (a worker round trip costs more). */
const parallelReadMinimumBytes = 1 << 20;

/**
 * Reads a task's input tensors into `buffers` (slot 0: the base or a copy's input; then the
 * models) and returns them, row-limited. With a `reader`, inputs whose models say where their
 * bytes lie are read by the row workers in parallel; anything else is read here.
 */
export function readTaskInputs(
  task: MergeTask,
  models: ReadonlyMap<string, InputModel>,
  buffers: InputBuffers,
  reader: ParallelReader | undefined,
): (Tensor | undefined)[] {
  const reads = taskReads(task);
  const sources = reads.map((input) => (input ? models.get(input.model)!.source : undefined));
  const ranges = reads.map((input, slot) =>
    input ? sources[slot]!.tensorFileRange?.(input.tensor) : undefined,
  );
  const parallel =
    reader !== undefined &&
    reads.every((input, slot) => input === undefined || (ranges[slot] && sources[slot]!.tensorFromBytes)) &&
    ranges.reduce((sum, range) => sum + (range?.byteLength ?? 0), 0) >= parallelReadMinimumBytes;
  const into = parallel
    ? ranges.map((range, slot) => (range ? buffers.input(slot, range.byteLength) : undefined))
    : [];
  let tensors: (Tensor | undefined)[];
  if (parallel && into.every((bytes) => bytes === undefined || reader.canRead(bytes))) {
    reader.readFiles(
      ranges.flatMap((range, slot) =>
        range ? [{ path: range.path, offset: range.offset, into: into[slot]! }] : [],
      ),
    );
    tensors = reads.map((input, slot) =>
      input ? sources[slot]!.tensorFromBytes!(input.tensor, into[slot]!) : undefined,
    );
  } else {
    tensors = reads.map((input, slot) =>
      input
        ? sources[slot]!.readTensor(
            input.tensor,
            buffers.input(slot, sources[slot]!.info(input.tensor).byteLength),
          )
        : undefined,
    );
  }
  return tensors.map((value) =>
    value !== undefined && task.rowLimit !== undefined && value.shape[0]! > task.rowLimit
      ? value.rows(0, task.rowLimit)
      : value,
  );
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
