// What a merge method sees of a tensor: its shape and row chunks decoded to f32 on demand.
// Methods never hold a whole tensor in f32 unless their algorithm needs it (a top-k threshold
// needs one scratch array of magnitudes); this keeps a huge embedding from being copied per model.
import { ShapeMismatchError, Tensor } from '@meld/tensor-core';

export interface TensorView {
  readonly shape: readonly number[];
  readonly size: number;
  /** Elements per row: the last dimension (the whole tensor for 0-d/1-d). */
  readonly rowLength: number;
  readonly rowCount: number;
  /** f32 values of rows [rowStart, rowEnd). Unless `fresh`, the result may be a view into shared memory: never write to it. */
  read(rowStart: number, rowEnd: number): Float32Array;
  /** True when every `read` returns a new array that the caller owns (decoded from another dtype). */
  readonly fresh?: boolean;
}

/** Where a method writes its result, row chunk by row chunk, in any order. */
export interface TensorOutput {
  write(rowStart: number, values: Float32Array): void;
}

export function rowGeometry(shape: readonly number[]): { size: number; rowLength: number; rowCount: number } {
  let size = 1;
  for (const d of shape) size *= d;
  const rowLength = shape.length <= 1 ? size : shape[shape.length - 1]!;
  const rowCount = rowLength === 0 ? 0 : size / rowLength;
  return { size, rowLength, rowCount };
}

/** A view over a Tensor of any float dtype; f32 tensors are read without copying. */
export function tensorView(tensor: Tensor): TensorView {
  const { size, rowLength, rowCount } = rowGeometry(tensor.shape);
  if (tensor.dtype === 'f32') {
    const data = tensor.data as Float32Array;
    return {
      shape: tensor.shape,
      size,
      rowLength,
      rowCount,
      read: (rowStart, rowEnd) => data.subarray(rowStart * rowLength, rowEnd * rowLength),
    };
  }
  const bytes = tensor.bytes();
  if (tensor.dtype === 'bf16' && bytes.byteOffset % 2 === 0) {
    // bf16 → f32 is a 16-bit shift; read 16-bit words straight from the bytes
    const words = new Uint16Array(bytes.buffer, bytes.byteOffset, size);
    return {
      fresh: true,
      shape: tensor.shape,
      size,
      rowLength,
      rowCount,
      read(rowStart, rowEnd) {
        const start = rowStart * rowLength;
        const out = new Float32Array((rowEnd - rowStart) * rowLength);
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < bits.length; i++) bits[i] = words[start + i]! << 16;
        return out;
      },
    };
  }
  return {
    shape: tensor.shape,
    size,
    rowLength,
    rowCount,
    read(rowStart, rowEnd) {
      const part =
        rowCount === 1 && rowStart === 0
          ? tensor
          : tensor.reshape([rowCount, rowLength]).rows(rowStart, rowEnd);
      return part.toFloat32();
    },
  };
}

export function float32View(data: Float32Array, shape: readonly number[] = [data.length]): TensorView {
  return tensorView(Tensor.fromF32(data, shape));
}

/** Collects a method's output into one Float32Array. */
export function float32Output(shape: readonly number[]): TensorOutput & { readonly data: Float32Array } {
  const { size, rowLength } = rowGeometry(shape);
  const data = new Float32Array(size);
  return {
    data,
    write(rowStart, values) {
      data.set(values, rowStart * rowLength);
    },
  };
}

/** Iterates row ranges of at most ~`chunkElements` elements (always at least one whole row). */
export function* rowChunks(
  rowCount: number,
  rowLength: number,
  chunkElements: number,
): Generator<{ rowStart: number; rowEnd: number }> {
  const rowsPerChunk = Math.max(1, Math.floor(chunkElements / Math.max(1, rowLength)));
  for (let rowStart = 0; rowStart < rowCount; rowStart += rowsPerChunk) {
    yield { rowStart, rowEnd: Math.min(rowCount, rowStart + rowsPerChunk) };
  }
}

export function assertSameShape(what: string, expected: readonly number[], actual: readonly number[]): void {
  if (expected.length !== actual.length || expected.some((d, i) => d !== actual[i])) {
    throw new ShapeMismatchError(what, expected, actual);
  }
}
