// Tensor: a dtype, a row-major shape and the bytes behind them.
//
// Ownership rule (the only one): a Tensor's data is ordinary JavaScript memory (a typed array)
// and is reclaimed by the garbage collector. Nothing needs disposing by hand. Views made by
// `row`, `rows` and `reshape` share the parent's memory: writing through a view writes the parent.
// Backends that mirror tensors on a device (WebGPU) release those mirrors with a FinalizationRegistry.
import { byteLength, type DType, dtypeInfo } from './dtype';
import { DTypeError, ShapeMismatchError, ValidationError } from './errors';
import { dequantize } from './quant/dequantize';

export type TensorData = Float32Array | Int8Array | Uint8Array;

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ValidationError('shape', `invalid dimension ${d} in [${shape}]`);
    n *= d;
  }
  return n;
}

export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** f32 -> Float32Array, i8 -> Int8Array, every other dtype -> little-endian bytes. */
  readonly data: TensorData;

  private constructor(dtype: DType, shape: readonly number[], data: TensorData) {
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  /** Wraps (does not copy) `data` as an f32 tensor. */
  static fromF32(data: Float32Array, shape: readonly number[] = [data.length]): Tensor {
    const size = product(shape);
    if (size !== data.length) throw new ShapeMismatchError('Tensor.fromF32', [data.length], [...shape]);
    return new Tensor('f32', shape, data);
  }

  static zeros(shape: readonly number[]): Tensor {
    return new Tensor('f32', shape, new Float32Array(product(shape)));
  }

  /** Wraps (does not copy) raw little-endian bytes of any dtype. */
  static fromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor {
    const size = product(shape);
    const expected = byteLength(dtype, size);
    if (bytes.byteLength !== expected) {
      throw new DTypeError(dtype, `shape [${shape}] needs ${expected} bytes, got ${bytes.byteLength}`);
    }
    if (dtype === 'f32') {
      if (bytes.byteOffset % 4 === 0)
        return new Tensor(dtype, shape, new Float32Array(bytes.buffer, bytes.byteOffset, size));
      return new Tensor(dtype, shape, new Float32Array(bytes.slice().buffer));
    }
    if (dtype === 'i8') return new Tensor(dtype, shape, new Int8Array(bytes.buffer, bytes.byteOffset, size));
    return new Tensor(dtype, shape, bytes);
  }

  get size(): number {
    return product(this.shape);
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  /** The raw little-endian bytes (a view, no copy). */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /** f32 values. For f32 tensors this is `data` itself (no copy); other dtypes are decoded. */
  toFloat32(): Float32Array {
    if (this.data instanceof Float32Array) return this.data;
    return dequantize(this.dtype, this.bytes(), this.size);
  }

  /** An f32 tensor with the same shape (itself when already f32). */
  toF32Tensor(): Tensor {
    return this.dtype === 'f32' ? this : Tensor.fromF32(this.toFloat32(), this.shape);
  }

  /** Zero-copy reshape; -1 infers one dimension. */
  reshape(shape: readonly number[]): Tensor {
    const size = this.size;
    const known = shape.filter((d) => d !== -1);
    const inferred = shape.map((d) => (d === -1 ? size / product(known) : d));
    if (product(inferred) !== size)
      throw new ShapeMismatchError('Tensor.reshape', [...this.shape], [...shape]);
    return new Tensor(this.dtype, inferred, this.data);
  }

  /** Zero-copy view of rows [start, end) along the outermost dimension. */
  rows(start: number, end: number): Tensor {
    const outer = this.shape[0] ?? 1;
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= outer && start <= end)) {
      throw new ValidationError('rows', `range [${start}, ${end}) outside [0, ${outer})`);
    }
    const rowElements = this.size / Math.max(outer, 1);
    const info = dtypeInfo(this.dtype);
    if (rowElements % info.blockSize !== 0) {
      throw new DTypeError(this.dtype, `a row of ${rowElements} elements splits a quantization block`);
    }
    const shape = [end - start, ...this.shape.slice(1)];
    if (this.data instanceof Float32Array) {
      return new Tensor(this.dtype, shape, this.data.subarray(start * rowElements, end * rowElements));
    }
    if (this.data instanceof Int8Array) {
      return new Tensor(this.dtype, shape, this.data.subarray(start * rowElements, end * rowElements));
    }
    const rowBytes = (rowElements / info.blockSize) * info.blockBytes;
    return new Tensor(this.dtype, shape, this.data.subarray(start * rowBytes, end * rowBytes));
  }

  /** Zero-copy view of row `index` (the outermost dimension removed). */
  row(index: number): Tensor {
    const view = this.rows(index, index + 1);
    return new Tensor(this.dtype, this.shape.slice(1), view.data);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}
