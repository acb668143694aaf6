// Lazy safetensors reader. Opening a file reads only the 8-byte header length and the JSON header;
// each tensor's bytes are read on demand at their byte offset. The header is validated the way
// huggingface/safetensors does (tensor.rs `validate`): known dtypes, byte counts equal to
// shape x dtype size, offsets sorted, contiguous, without holes or overlap, ending at end of file.
import type { DType } from '../dtype';
import { DTypeError, FormatError, ValidationError } from '../errors';
import { Tensor } from '../tensor';
import { RandomAccessFile } from './file-reader';
import {
  isSafetensorsDType,
  type SafetensorsDType,
  safetensorsByteLength,
  safetensorsDTypeInfo,
} from './safetensors-dtypes';

/** huggingface/safetensors refuses headers above 100 MB (MAX_HEADER_SIZE). */
export const maxSafetensorsHeaderBytes = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  /** Row-major, outermost first. */
  readonly shape: readonly number[];
  /** [begin, end) relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file (data offset) order. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** Absolute file offset of the data section (8 + header length). */
  readonly dataStart: number;
}

function elementCount(file: string, field: string, shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count)) throw new FormatError(file, field, `shape [${shape}] is too large`);
  }
  return count;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and validates a header. `fileSize` bounds every claimed length. */
export function parseSafetensorsHeader(file: RandomAccessFile): SafetensorsHeader {
  const path = file.path;
  if (file.size < 8)
    throw new FormatError(path, 'header_length', `file has ${file.size} bytes, needs at least 8`);
  const lengthBytes = file.read(0, 8, 'header_length');
  const length = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (length > BigInt(maxSafetensorsHeaderBytes)) {
    throw new FormatError(
      path,
      'header_length',
      `${length} bytes is above the ${maxSafetensorsHeaderBytes} limit`,
    );
  }
  const headerLength = Number(length);
  if (8 + headerLength > file.size) {
    throw new FormatError(
      path,
      'header_length',
      `${headerLength} bytes runs past the end of the ${file.size}-byte file`,
    );
  }
  const headerBytes = file.read(8, headerLength, 'header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch (error) {
    throw new FormatError(path, 'header', 'is not valid UTF-8', { cause: error });
  }
  if (!text.startsWith('{')) throw new FormatError(path, 'header', 'does not start with "{"');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError(path, 'header', `is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isRecord(json)) throw new FormatError(path, 'header', 'is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(entry)) throw new FormatError(path, '__metadata__', 'is not an object');
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') throw new FormatError(path, `__metadata__.${key}`, 'is not a string');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const field = `tensor '${name}'`;
    if (!isRecord(entry)) throw new FormatError(path, field, 'is not an object');
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isSafetensorsDType(dtype))
      throw new FormatError(path, `${field}.dtype`, `unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(
        path,
        `${field}.shape`,
        `must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new FormatError(
        path,
        `${field}.data_offsets`,
        `must be [begin, end] with begin <= end, got ${JSON.stringify(offsets)}`,
      );
    }
    const count = elementCount(path, `${field}.shape`, shape);
    const byteLength = safetensorsByteLength(dtype, count);
    if (byteLength === undefined) {
      throw new FormatError(path, `${field}.shape`, `${count} ${dtype} elements do not fill whole bytes`);
    }
    if (offsets[1] - offsets[0] !== byteLength) {
      throw new FormatError(
        path,
        `${field}.data_offsets`,
        `[${offsets}] holds ${offsets[1] - offsets[0]} bytes but ${dtype} [${shape}] needs ${byteLength}`,
      );
    }
    tensors.push({
      name,
      dtype,
      shape: Object.freeze([...shape]),
      dataOffsets: [offsets[0], offsets[1]],
      byteLength,
    });
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const dataStart = 8 + headerLength;
  const dataBytes = file.size - dataStart;
  let expectedBegin = 0;
  for (const tensor of tensors) {
    const [begin, end] = tensor.dataOffsets;
    if (begin !== expectedBegin) {
      throw new FormatError(
        path,
        `tensor '${tensor.name}'.data_offsets`,
        begin < expectedBegin
          ? `[${begin}, ${end}) overlaps the previous tensor`
          : `leaves a hole at [${expectedBegin}, ${begin})`,
      );
    }
    if (end > dataBytes) {
      throw new FormatError(
        path,
        `tensor '${tensor.name}'.data_offsets`,
        `end ${end} is past the ${dataBytes}-byte data section (truncated?)`,
      );
    }
    expectedBegin = end;
  }
  if (expectedBegin !== dataBytes) {
    throw new FormatError(
      path,
      'data',
      `tensors cover ${expectedBegin} bytes but the data section has ${dataBytes}`,
    );
  }
  return { metadata, tensors, dataStart };
}

/** An open safetensors file. Reads happen on demand; call `close()` when done. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly dataStart: number;
  private readonly file: RandomAccessFile;
  private readonly byName: Map<string, SafetensorsTensorInfo>;

  private constructor(file: RandomAccessFile, header: SafetensorsHeader) {
    this.file = file;
    this.path = file.path;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.dataStart = header.dataStart;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  static open(path: string): SafetensorsFile {
    const file = new RandomAccessFile(path);
    try {
      return new SafetensorsFile(file, parseSafetensorsHeader(file));
    } catch (error) {
      file.close();
      throw error;
    }
  }

  get names(): string[] {
    return this.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new FormatError(this.path, `tensor '${name}'`, 'no such tensor in this file');
    return info;
  }

  /**
   * The tensor's raw little-endian bytes, read from disk at its offset. With `into` (at least
   * byteLength long) they are read into its start and a view of it is returned: a caller that reads
   * many tensors can reuse one buffer instead of faulting in fresh memory for each.
   */
  readBytes(name: string, into?: Uint8Array): Uint8Array {
    const info = this.info(name);
    const target = into?.subarray(0, info.byteLength);
    if (target && target.byteLength < info.byteLength) {
      throw new ValidationError(
        'into',
        `tensor '${name}' needs ${info.byteLength} bytes, the buffer has ${target.byteLength}`,
      );
    }
    return this.file.read(this.dataStart + info.dataOffsets[0], info.byteLength, `tensor '${name}'`, target);
  }

  /**
   * The tensor. F32, F16, BF16 and I8 keep their dtype; F8, F64, BOOL and 8-32 bit integers are
   * decoded to f32; I64/U64 throw DTypeError (use `readBytes`). With `into`, native dtypes are a
   * view of it (see readBytes): valid until the buffer is reused.
   */
  readTensor(name: string, into?: Uint8Array): Tensor {
    return this.tensorFromBytes(name, this.readBytes(name, into));
  }

  /**
   * Where tensor `name`'s bytes lie: this file's path and the absolute byte offset, so another
   * thread can read them itself (row workers reading their share of a tensor in parallel).
   */
  tensorFileRange(name: string): {
    readonly path: string;
    readonly offset: number;
    readonly byteLength: number;
  } {
    const info = this.info(name);
    return { path: this.path, offset: this.dataStart + info.dataOffsets[0], byteLength: info.byteLength };
  }

  /** The Tensor `readTensor` returns, from tensor `name`'s bytes already read (see readTensor). */
  tensorFromBytes(name: string, bytes: Uint8Array): Tensor {
    const info = this.info(name);
    const typeInfo = safetensorsDTypeInfo(info.dtype);
    if (bytes.byteLength !== info.byteLength) {
      throw new ValidationError(
        'bytes',
        `tensor '${name}' has ${info.byteLength} bytes, got ${bytes.byteLength}`,
      );
    }
    if (typeInfo.native) return Tensor.fromBytes(typeInfo.native as DType, info.shape, bytes);
    if (typeInfo.toF32) {
      const count = (info.byteLength * 8) / typeInfo.bits;
      return Tensor.fromF32(typeInfo.toF32(bytes, count), info.shape);
    }
    throw new DTypeError(
      info.dtype,
      `tensor '${name}' in ${this.path}: no f32 conversion; read it with readBytes()`,
    );
  }

  /** Bytes read from disk so far, header included. */
  get bytesRead(): number {
    return this.file.bytesRead;
  }

  close(): void {
    this.file.close();
  }
}

/** Opens one safetensors file lazily (see SafetensorsFile). */
export function openSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.open(path);
}
