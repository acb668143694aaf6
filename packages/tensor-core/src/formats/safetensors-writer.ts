// Streaming safetensors writer. The header (names, dtypes, shapes, offsets) is known before any
// data: it is written first, padded with spaces to a multiple of 8 bytes as huggingface/safetensors
// does, then each tensor's bytes are produced and written one at a time, so at most one tensor is
// in memory. Output is atomic: a temporary file in the same folder renamed on success.

import { DTypeError, ShapeMismatchError, ValidationError } from '../errors';
import { Tensor } from '../tensor';
import { AtomicFileWriter } from './atomic-write';
import {
  isSafetensorsDType,
  type SafetensorsDType,
  safetensorsByteLength,
  safetensorsDTypeFor,
  safetensorsDTypes,
} from './safetensors-dtypes';

/** One tensor to write. `data` may be a function: it is called once, when its turn comes. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Tensor | Uint8Array | (() => Tensor | Uint8Array);
}

export type SafetensorsInput =
  | Readonly<Record<string, Tensor>>
  | ReadonlyMap<string, Tensor>
  | readonly SafetensorsEntry[];

export interface SafetensorsWriteOptions {
  /** Written as `__metadata__` (string values only). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** An entry for a tensor already in memory; its dtype must exist in safetensors (not GGUF blocks). */
export function safetensorsEntry(name: string, tensor: Tensor): SafetensorsEntry {
  const dtype = safetensorsDTypeFor(tensor.dtype);
  if (!dtype)
    throw new DTypeError(
      tensor.dtype,
      `tensor '${name}': safetensors has no ${tensor.dtype}; dequantize first`,
    );
  return { name, dtype, shape: tensor.shape, data: tensor };
}

/** Normalises any accepted input to entries. */
export function toSafetensorsEntries(input: SafetensorsInput): SafetensorsEntry[] {
  if (Array.isArray(input)) return [...(input as readonly SafetensorsEntry[])];
  const pairs = input instanceof Map ? [...input.entries()] : Object.entries(input as Record<string, Tensor>);
  return pairs.map(([name, tensor]) => safetensorsEntry(name, tensor));
}

export function entryByteLength(entry: SafetensorsEntry): number {
  if (!isSafetensorsDType(entry.dtype))
    throw new ValidationError(`${entry.name}.dtype`, `unknown dtype ${entry.dtype}`);
  let count = 1;
  for (const dim of entry.shape) {
    if (!Number.isSafeInteger(dim) || dim < 0)
      throw new ValidationError(`${entry.name}.shape`, `invalid dimension ${dim}`);
    count *= dim;
  }
  const bytes = safetensorsByteLength(entry.dtype, count);
  if (bytes === undefined)
    throw new ValidationError(
      `${entry.name}.shape`,
      `${count} ${entry.dtype} elements do not fill whole bytes`,
    );
  return bytes;
}

const dtypeRank = new Map(safetensorsDTypes.map((d, i) => [d, i]));

/** huggingface/safetensors' order: dtype (descending), then name. */
export function sortSafetensorsEntries(entries: readonly SafetensorsEntry[]): SafetensorsEntry[] {
  return [...entries].sort(
    (a, b) =>
      dtypeRank.get(b.dtype)! - dtypeRank.get(a.dtype)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

/** The header bytes (JSON padded with spaces to a multiple of 8) for entries in file order. */
export function encodeSafetensorsHeader(
  entries: readonly SafetensorsEntry[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const fields = Object.entries(metadata).map(([key, value]) => {
      if (typeof value !== 'string') throw new ValidationError(`metadata.${key}`, 'must be a string');
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    parts.push(`"__metadata__":{${fields.join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const entry of entries) {
    if (entry.name === '__metadata__') throw new ValidationError('name', '"__metadata__" is reserved');
    if (seen.has(entry.name)) throw new ValidationError(entry.name, 'duplicate tensor name');
    seen.add(entry.name);
    const size = entryByteLength(entry);
    parts.push(
      `${JSON.stringify(entry.name)}:{"dtype":"${entry.dtype}","shape":[${entry.shape.join(',')}],"data_offsets":[${offset},${offset + size}]}`,
    );
    offset += size;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function entryBytes(entry: SafetensorsEntry, expected: number): Uint8Array {
  const value = typeof entry.data === 'function' ? entry.data() : entry.data;
  let bytes: Uint8Array;
  if (value instanceof Tensor) {
    if (value.shape.length !== entry.shape.length || value.shape.some((d, i) => d !== entry.shape[i])) {
      throw new ShapeMismatchError(`tensor '${entry.name}'`, entry.shape, value.shape);
    }
    const dtype = safetensorsDTypeFor(value.dtype);
    if (dtype !== entry.dtype) {
      throw new DTypeError(value.dtype, `tensor '${entry.name}' was declared ${entry.dtype}`);
    }
    bytes = value.bytes();
  } else {
    bytes = value;
  }
  if (bytes.byteLength !== expected) {
    throw new DTypeError(
      entry.dtype,
      `tensor '${entry.name}' [${entry.shape}] needs ${expected} bytes, got ${bytes.byteLength}`,
    );
  }
  return bytes;
}

/**
 * Writes one safetensors file atomically. Tensors are laid out in huggingface/safetensors order
 * (dtype descending, then name); lazy `data` functions are called one at a time in that order.
 * Returns the number of tensor data bytes written.
 */
export function writeSafetensors(
  path: string,
  input: SafetensorsInput,
  options: SafetensorsWriteOptions = {},
): number {
  const entries = sortSafetensorsEntries(toSafetensorsEntries(input));
  const header = encodeSafetensorsHeader(entries, options.metadata);
  const writer = new AtomicFileWriter(path);
  try {
    writer.write(header);
    let total = 0;
    for (const entry of entries) {
      const size = entryByteLength(entry);
      writer.write(entryBytes(entry, size));
      total += size;
    }
    writer.commit();
    return total;
  } catch (error) {
    writer.abort();
    throw error;
  }
}
