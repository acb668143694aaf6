// GGUF v2/v3 reader (ggml/docs/gguf.md, ggml/src/gguf.cpp). Opening reads the header only,
// through a bounded window; tensor data is read on demand. Every count and length is checked
// against the bytes left in the file before anything is allocated for it.
import { DTypeError, FormatError } from '../errors';
import { dequantize } from '../quant/dequantize';
import { Tensor } from '../tensor';
import { RandomAccessFile } from './file-reader';
import {
  type GgmlTypeInfo,
  type GgufScalarType,
  type GgufValueType,
  ggmlTypeInfo,
  ggufScalarBytes,
  ggufValueTypeIds,
} from './gguf-types';

export const ggufMagic = 0x46554747; // "GGUF" little-endian
export const ggufDefaultAlignment = 32;
const maxDims = 4; // GGML_MAX_DIMS

export type GgufScalar = number | bigint | boolean | string;

/** A metadata value with its GGUF type; u64/i64 beyond 2^53 are bigint. */
export type GgufValue =
  | { readonly type: GgufScalarType; readonly value: GgufScalar }
  | { readonly type: 'array'; readonly elementType: GgufScalarType; readonly value: readonly GgufScalar[] }
  | { readonly type: 'array'; readonly elementType: 'array'; readonly value: readonly GgufValue[] };

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml type name ('F32', 'Q8_0', ...). */
  readonly type: string;
  readonly typeInfo: GgmlTypeInfo;
  /** Row-major shape, outermost first (GGUF's ne reversed). */
  readonly shape: readonly number[];
  /** GGUF order: ne[0] is the innermost (contiguous) dimension. */
  readonly dims: readonly number[];
  /** Offset relative to the data section. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset of the tensor data section. */
  readonly dataStart: number;
}

/** Sequential reader over a file window, bounded by the file size. */
class Cursor {
  position = 0;
  private window: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.window.buffer);
  private windowStart = 0;
  /** Refill size: grows from 64 KiB so small headers stay cheap and large vocabularies stay fast. */
  private chunk = 1 << 16;
  constructor(private readonly file: RandomAccessFile) {}

  get remaining(): number {
    return this.file.size - this.position;
  }

  private ensure(length: number, field: string): number {
    this.file.check(this.position, length, field);
    if (
      this.position < this.windowStart ||
      this.position + length > this.windowStart + this.window.byteLength
    ) {
      const size = Math.min(Math.max(length, this.chunk), this.file.size - this.position);
      this.chunk = Math.min(this.chunk * 2, 1 << 24);
      this.window = this.file.read(this.position, size, field);
      this.view = new DataView(this.window.buffer);
      this.windowStart = this.position;
    }
    const at = this.position - this.windowStart;
    this.position += length;
    return at;
  }

  u8(field: string): number {
    const at = this.ensure(1, field);
    return this.view.getUint8(at);
  }
  i8(field: string): number {
    const at = this.ensure(1, field);
    return this.view.getInt8(at);
  }
  u16(field: string): number {
    const at = this.ensure(2, field);
    return this.view.getUint16(at, true);
  }
  i16(field: string): number {
    const at = this.ensure(2, field);
    return this.view.getInt16(at, true);
  }
  u32(field: string): number {
    const at = this.ensure(4, field);
    return this.view.getUint32(at, true);
  }
  i32(field: string): number {
    const at = this.ensure(4, field);
    return this.view.getInt32(at, true);
  }
  f32(field: string): number {
    const at = this.ensure(4, field);
    return this.view.getFloat32(at, true);
  }
  f64(field: string): number {
    const at = this.ensure(8, field);
    return this.view.getFloat64(at, true);
  }
  u64(field: string): bigint {
    const at = this.ensure(8, field);
    return this.view.getBigUint64(at, true);
  }
  i64(field: string): bigint {
    const at = this.ensure(8, field);
    return this.view.getBigInt64(at, true);
  }
  /** A u64 that must be a count or size: checked to fit a safe integer. */
  size(field: string): number {
    const value = this.u64(field);
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw new FormatError(this.file.path, field, `${value} is absurdly large`);
    return Number(value);
  }
  string(field: string): string {
    const length = this.size(field);
    if (length > this.remaining) {
      throw new FormatError(this.file.path, field, `string of ${length} bytes runs past the end of the file`);
    }
    const at = this.ensure(length, field);
    return new TextDecoder().decode(this.window.subarray(at, at + length));
  }
}

function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function valueType(cursor: Cursor, path: string, field: string): GgufValueType {
  const id = cursor.u32(field);
  const type = ggufValueTypeIds[id];
  if (type === undefined) throw new FormatError(path, field, `unknown value type ${id}`);
  return type;
}

function readScalar(cursor: Cursor, type: GgufScalarType, field: string): GgufScalar {
  switch (type) {
    case 'u8':
      return cursor.u8(field);
    case 'i8':
      return cursor.i8(field);
    case 'u16':
      return cursor.u16(field);
    case 'i16':
      return cursor.i16(field);
    case 'u32':
      return cursor.u32(field);
    case 'i32':
      return cursor.i32(field);
    case 'f32':
      return cursor.f32(field);
    case 'bool':
      return cursor.u8(field) !== 0;
    case 'string':
      return cursor.string(field);
    case 'u64':
      return narrow(cursor.u64(field));
    case 'i64':
      return narrow(cursor.i64(field));
    case 'f64':
      return cursor.f64(field);
  }
}

function readValue(
  cursor: Cursor,
  path: string,
  type: GgufValueType,
  field: string,
  depth: number,
): GgufValue {
  if (type !== 'array') return { type, value: readScalar(cursor, type, field) };
  if (depth > 8) throw new FormatError(path, field, 'arrays nested too deeply');
  const elementType = valueType(cursor, path, `${field}.type`);
  const count = cursor.size(`${field}.length`);
  const minimum = elementType === 'array' ? 12 : ggufScalarBytes[elementType];
  if (count * minimum > cursor.remaining) {
    throw new FormatError(
      path,
      `${field}.length`,
      `${count} elements cannot fit in the ${cursor.remaining} bytes left`,
    );
  }
  if (elementType === 'array') {
    const values: GgufValue[] = [];
    for (let i = 0; i < count; i++)
      values.push(readValue(cursor, path, 'array', `${field}[${i}]`, depth + 1));
    return { type: 'array', elementType, value: values };
  }
  const values: GgufScalar[] = new Array(count);
  for (let i = 0; i < count; i++) values[i] = readScalar(cursor, elementType, field);
  return { type: 'array', elementType, value: values };
}

/** Parses and validates a GGUF header. */
export function parseGgufHeader(file: RandomAccessFile): GgufHeader {
  const path = file.path;
  const cursor = new Cursor(file);
  const magic = cursor.u32('magic');
  if (magic !== ggufMagic) throw new FormatError(path, 'magic', `0x${magic.toString(16)} is not "GGUF"`);
  const version = cursor.u32('version');
  if (version !== 2 && version !== 3) {
    throw new FormatError(path, 'version', `${version} is not supported (GGUF v2 and v3 are)`);
  }
  const tensorCount = cursor.size('tensor_count');
  const kvCount = cursor.size('metadata_kv_count');
  // Smallest encodings: a tensor info is 8 (name) + 4 + 4 + 8 bytes, a key/value 8 + 4 + 1 bytes.
  if (tensorCount * 24 + kvCount * 13 > cursor.remaining) {
    throw new FormatError(
      path,
      'tensor_count',
      `${tensorCount} tensors and ${kvCount} keys cannot fit in the file`,
    );
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`metadata[${i}].key`);
    if (metadata.has(key)) throw new FormatError(path, key, 'duplicate metadata key');
    const type = valueType(cursor, path, `${key}.type`);
    metadata.set(key, readValue(cursor, path, type, key, 0));
  }
  let alignment = ggufDefaultAlignment;
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue) {
    const value = alignmentValue.value;
    if (
      alignmentValue.type !== 'u32' ||
      typeof value !== 'number' ||
      value === 0 ||
      (value & (value - 1)) !== 0
    ) {
      throw new FormatError(path, 'general.alignment', `must be a u32 power of two, got ${String(value)}`);
    }
    alignment = value;
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`tensor[${i}].name`);
    const field = `tensor '${name}'`;
    if (names.has(name)) throw new FormatError(path, field, 'duplicate tensor name');
    names.add(name);
    const nDims = cursor.u32(`${field}.n_dims`);
    if (nDims > maxDims) throw new FormatError(path, `${field}.n_dims`, `${nDims} is above ${maxDims}`);
    const dims: number[] = [];
    let count = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = cursor.size(`${field}.ne[${d}]`);
      count *= dim;
      if (!Number.isSafeInteger(count))
        throw new FormatError(path, `${field}.ne`, 'element count is absurdly large');
      dims.push(dim);
    }
    const typeId = cursor.u32(`${field}.type`);
    const typeInfo = ggmlTypeInfo(typeId);
    if (!typeInfo) throw new FormatError(path, `${field}.type`, `unknown ggml type ${typeId}`);
    const offset = cursor.size(`${field}.offset`);
    if (offset % alignment !== 0)
      throw new FormatError(path, `${field}.offset`, `${offset} is not a multiple of ${alignment}`);
    if ((dims[0] ?? 1) % typeInfo.blockSize !== 0) {
      throw new FormatError(
        path,
        `${field}.ne[0]`,
        `${dims[0]} is not a multiple of the ${typeInfo.name} block size ${typeInfo.blockSize}`,
      );
    }
    const byteLength = (count / typeInfo.blockSize) * typeInfo.blockBytes;
    tensors.push({
      name,
      type: typeInfo.name,
      typeInfo,
      shape: Object.freeze([...dims].reverse()),
      dims: Object.freeze(dims),
      offset,
      byteLength,
    });
  }
  const dataStart = Math.ceil(cursor.position / alignment) * alignment;
  const dataBytes = file.size - dataStart;
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const tensor of sorted) {
    const field = `tensor '${tensor.name}'.offset`;
    if (tensor.offset < end)
      throw new FormatError(
        path,
        field,
        `data at ${tensor.offset} overlaps the previous tensor (ends at ${end})`,
      );
    end = tensor.offset + tensor.byteLength;
    if (end > dataBytes) {
      throw new FormatError(
        path,
        field,
        `data [${tensor.offset}, ${end}) runs past the ${Math.max(dataBytes, 0)}-byte data section (truncated?)`,
      );
    }
  }
  return { version, metadata, tensors, alignment, dataStart };
}

/** Plain JS value of a metadata entry (arrays of plain values). */
export function ggufPlainValue(value: GgufValue): unknown {
  if (value.type !== 'array') return value.value;
  if (value.elementType === 'array') return (value.value as readonly GgufValue[]).map(ggufPlainValue);
  return value.value;
}

/** An open GGUF file. Tensor data is read on demand; call `close()` when done. */
export class GgufFile implements GgufHeader {
  readonly path: string;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataStart: number;
  private readonly file: RandomAccessFile;
  private readonly byName: Map<string, GgufTensorInfo>;

  private constructor(file: RandomAccessFile, header: GgufHeader) {
    this.file = file;
    this.path = file.path;
    this.version = header.version;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.alignment = header.alignment;
    this.dataStart = header.dataStart;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  static open(path: string): GgufFile {
    const file = new RandomAccessFile(path);
    try {
      return new GgufFile(file, parseGgufHeader(file));
    } catch (error) {
      file.close();
      throw error;
    }
  }

  get names(): string[] {
    return this.tensors.map((t) => t.name);
  }

  /** The plain value of a metadata key (undefined when absent). */
  get(key: string): unknown {
    const value = this.metadata.get(key);
    return value === undefined ? undefined : ggufPlainValue(value);
  }

  /** The metadata key as a number; FormatError when present with another type, `fallback` when absent. */
  getNumber(key: string, fallback?: number): number {
    const value = this.get(key);
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'number')
      throw new FormatError(this.path, key, `expected a number, got ${String(value)}`);
    return value;
  }

  getString(key: string, fallback?: string): string {
    const value = this.get(key);
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string')
      throw new FormatError(this.path, key, `expected a string, got ${String(value)}`);
    return value;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): GgufTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new FormatError(this.path, `tensor '${name}'`, 'no such tensor in this file');
    return info;
  }

  readBytes(name: string): Uint8Array {
    const info = this.info(name);
    return this.file.read(this.dataStart + info.offset, info.byteLength, `tensor '${name}'`);
  }

  /** The tensor in its stored dtype (f32, f16, bf16, i8, q8_0, q4_0, q4_k, q6_k), shape row-major. */
  readTensor(name: string): Tensor {
    const info = this.info(name);
    const dtype = info.typeInfo.dtype;
    if (!dtype)
      throw new DTypeError(
        info.type,
        `tensor '${name}' in ${this.path}: no decoder for ggml type ${info.type}`,
      );
    return Tensor.fromBytes(dtype, info.shape, this.readBytes(name));
  }

  /** The tensor dequantized to f32. */
  readTensorF32(name: string): Tensor {
    const tensor = this.readTensor(name);
    if (tensor.dtype === 'f32') return tensor;
    return Tensor.fromF32(dequantize(tensor.dtype, tensor.bytes(), tensor.size), tensor.shape);
  }

  get bytesRead(): number {
    return this.file.bytesRead;
  }

  close(): void {
    this.file.close();
  }
}

export function openGguf(path: string): GgufFile {
  return GgufFile.open(path);
}
