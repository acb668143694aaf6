// GGUF v3 writer: metadata of every value type, tensors as F32, F16, BF16, Q8_0 or Q4_0 (or their
// stored block type unchanged), data aligned to `general.alignment` (default 32). The header is
// written first, then each tensor is produced, converted and written one at a time; atomic.
import { dtypes } from '../dtype';
import { DTypeError, ShapeMismatchError, ValidationError } from '../errors';
import { encodeBf16, encodeF16 } from '../half';
import { quantizeQ4_0 } from '../quant/q4-0';
import { quantizeQ8_0 } from '../quant/q8-0';
import { Tensor } from '../tensor';
import { AtomicFileWriter } from './atomic-write';
import { type GgufScalar, type GgufValue, ggufDefaultAlignment, ggufMagic } from './gguf-reader';
import { type GgmlTypeInfo, type GgufScalarType, ggmlTypeForDType, ggufValueTypeIds } from './gguf-types';

/** ggml types the writer can produce from any tensor. */
export type GgufWriteType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0';

const writeTypes: Record<GgufWriteType, GgmlTypeInfo> = {
  F32: ggmlTypeForDType('f32'),
  F16: ggmlTypeForDType('f16'),
  BF16: ggmlTypeForDType('bf16'),
  Q8_0: ggmlTypeForDType('q8_0'),
  Q4_0: ggmlTypeForDType('q4_0'),
};

export interface GgufTensorEntry {
  readonly name: string;
  /** Row-major shape, outermost first (written reversed, as GGUF's ne). */
  readonly shape: readonly number[];
  /**
   * Stored ggml type: F32, F16, BF16, Q8_0 and Q4_0 are converted to from any tensor; other types
   * (Q4_K, Q6_K, I8) are written only from tensors already in them. Default: the tensor's own dtype.
   */
  readonly type?: GgufWriteType | string;
  /** The tensor, or a function producing it when its turn comes (called once). */
  readonly data: Tensor | (() => Tensor);
}

export interface GgufWriteInput {
  readonly metadata: ReadonlyMap<string, GgufValue> | Readonly<Record<string, GgufValue>>;
  readonly tensors: readonly GgufTensorEntry[];
}

export interface GgufWriteOptions {
  /** Data alignment in bytes (a power of two; default 32). Written as general.alignment when not 32. */
  readonly alignment?: number;
}

class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(bytes: number): number {
    if (this.length + bytes > this.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(this.buffer.byteLength * 2, this.length + bytes));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += bytes;
    return at;
  }
  u8(v: number) {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  u32(v: number) {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  u64(v: number | bigint) {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array) {
    const at = this.reserve(b.byteLength);
    this.buffer.set(b, at);
  }
  string(s: string) {
    const encoded = new TextEncoder().encode(s);
    this.u64(encoded.byteLength);
    this.bytes(encoded);
  }
  scalar(type: GgufScalarType, value: GgufScalar, key: string) {
    const fail = () => new ValidationError(`metadata.${key}`, `${String(value)} is not a valid ${type}`);
    if (type === 'string') {
      if (typeof value !== 'string') throw fail();
      this.string(value);
      return;
    }
    if (type === 'bool') {
      if (typeof value !== 'boolean') throw fail();
      this.u8(value ? 1 : 0);
      return;
    }
    if (type === 'u64' || type === 'i64') {
      if (typeof value !== 'number' && typeof value !== 'bigint') throw fail();
      const big = BigInt(value);
      const at = this.reserve(8);
      if (type === 'u64') this.view.setBigUint64(at, big, true);
      else this.view.setBigInt64(at, big, true);
      return;
    }
    if (typeof value !== 'number') throw fail();
    const sizes = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 } as const;
    const at = this.reserve(sizes[type]);
    const v = this.view;
    if (type === 'u8') v.setUint8(at, value);
    else if (type === 'i8') v.setInt8(at, value);
    else if (type === 'u16') v.setUint16(at, value, true);
    else if (type === 'i16') v.setInt16(at, value, true);
    else if (type === 'u32') v.setUint32(at, value, true);
    else if (type === 'i32') v.setInt32(at, value, true);
    else if (type === 'f32') v.setFloat32(at, value, true);
    else v.setFloat64(at, value, true);
  }
  value(value: GgufValue, key: string) {
    if (value.type !== 'array') {
      this.scalar(value.type, value.value, key);
      return;
    }
    this.u32(ggufValueTypeIds.indexOf(value.elementType));
    this.u64(value.value.length);
    if (value.elementType === 'array') {
      for (const element of value.value as readonly GgufValue[]) this.value(element, key);
      return;
    }
    for (const element of value.value as readonly GgufScalar[]) this.scalar(value.elementType, element, key);
  }
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function entryType(entry: GgufTensorEntry): GgmlTypeInfo {
  if (entry.type) {
    const info = Object.hasOwn(writeTypes, entry.type)
      ? writeTypes[entry.type as GgufWriteType]
      : dtypes.map(ggmlTypeForDType).find((t) => t.name === entry.type);
    if (!info) throw new ValidationError(`${entry.name}.type`, `cannot write ggml type ${entry.type}`);
    return info;
  }
  if (typeof entry.data === 'function')
    throw new ValidationError(`${entry.name}.type`, 'required when data is lazy');
  return ggmlTypeForDType(entry.data.dtype);
}

function entryByteLength(entry: GgufTensorEntry, type: GgmlTypeInfo): number {
  let count = 1;
  for (const d of entry.shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new ValidationError(`${entry.name}.shape`, `invalid dimension ${d}`);
    count *= d;
  }
  const inner = entry.shape[entry.shape.length - 1] ?? 1;
  if (inner % type.blockSize !== 0) {
    throw new DTypeError(
      type.name,
      `tensor '${entry.name}': row of ${inner} is not a multiple of the block size ${type.blockSize}`,
    );
  }
  return (count / type.blockSize) * type.blockBytes;
}

/** Converts a tensor to the bytes of a ggml type. */
export function encodeGgmlTensor(tensor: Tensor, type: GgmlTypeInfo): Uint8Array {
  if (tensor.dtype === type.dtype) return tensor.bytes();
  const values = tensor.toFloat32();
  switch (type.name) {
    case 'F32':
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16':
      return encodeF16(values);
    case 'BF16':
      return encodeBf16(values);
    case 'Q8_0':
      return quantizeQ8_0(values);
    case 'Q4_0':
      return quantizeQ4_0(values);
    default:
      throw new DTypeError(type.name, `cannot convert ${tensor.dtype} to ${type.name}`);
  }
}

const pad = (n: number, alignment: number) => Math.ceil(n / alignment) * alignment;

/** Writes a GGUF v3 file atomically; returns the file size in bytes. */
export function writeGguf(path: string, input: GgufWriteInput, options: GgufWriteOptions = {}): number {
  const alignment = options.alignment ?? ggufDefaultAlignment;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new ValidationError('alignment', `must be a power of two, got ${alignment}`);
  }
  const metadata = new Map(input.metadata instanceof Map ? input.metadata : Object.entries(input.metadata));
  metadata.delete('general.alignment');
  if (alignment !== ggufDefaultAlignment)
    metadata.set('general.alignment', { type: 'u32', value: alignment });

  const header = new ByteWriter();
  header.u32(ggufMagic);
  header.u32(3);
  header.u64(input.tensors.length);
  header.u64(metadata.size);
  for (const [key, value] of metadata) {
    header.string(key);
    header.u32(ggufValueTypeIds.indexOf(value.type));
    header.value(value, key);
  }
  const plan: { entry: GgufTensorEntry; type: GgmlTypeInfo; offset: number; bytes: number }[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const entry of input.tensors) {
    if (names.has(entry.name)) throw new ValidationError(entry.name, 'duplicate tensor name');
    names.add(entry.name);
    const type = entryType(entry);
    const bytes = entryByteLength(entry, type);
    header.string(entry.name);
    header.u32(entry.shape.length);
    for (let d = entry.shape.length - 1; d >= 0; d--) header.u64(entry.shape[d]!);
    header.u32(type.id);
    header.u64(offset);
    plan.push({ entry, type, offset, bytes });
    offset = pad(offset + bytes, alignment);
  }
  const writer = new AtomicFileWriter(path);
  try {
    const headerBytes = header.result();
    writer.write(headerBytes);
    writer.write(new Uint8Array(pad(headerBytes.byteLength, alignment) - headerBytes.byteLength));
    let written = 0;
    for (const { entry, type, offset: at, bytes } of plan) {
      writer.write(new Uint8Array(at - written));
      const tensor = typeof entry.data === 'function' ? entry.data() : entry.data;
      if (!(tensor instanceof Tensor)) throw new ValidationError(`${entry.name}.data`, 'is not a Tensor');
      if (tensor.shape.length !== entry.shape.length || tensor.shape.some((d, i) => d !== entry.shape[i])) {
        throw new ShapeMismatchError(`tensor '${entry.name}'`, entry.shape, tensor.shape);
      }
      const encoded = encodeGgmlTensor(tensor, type);
      if (encoded.byteLength !== bytes)
        throw new DTypeError(
          type.name,
          `tensor '${entry.name}' encoded to ${encoded.byteLength} bytes, expected ${bytes}`,
        );
      writer.write(encoded);
      written = at + bytes;
    }
    writer.write(new Uint8Array(pad(written, alignment) - written)); // gguf-py pads after every tensor
    writer.commit();
    return writer.position;
  } catch (error) {
    writer.abort();
    throw error;
  }
}
