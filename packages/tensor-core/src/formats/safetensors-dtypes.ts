// safetensors dtype names (huggingface/safetensors safetensors/src/tensor.rs `Dtype`) and how each
// becomes a meld Tensor: F32/F16/BF16/I8 keep their dtype; F8, F64 and small integers decode to f32;
// 64-bit integers, complex and sub-byte/exponent-only floats are readable only as raw bytes
// (`readBytes`); reading them as tensors throws DTypeError.

/** Bytes for `count` elements of a dtype; undefined when they do not fill whole bytes. */
export function safetensorsByteLength(dtype: SafetensorsDType, count: number): number | undefined {
  const bits = count * infos[dtype].bits;
  return bits % 8 === 0 ? bits / 8 : undefined;
}

import type { DType } from '../dtype';
import { decodeF8E4m3, decodeF8E5m2 } from '../quant/f8';

export type SafetensorsDType =
  | 'BOOL'
  | 'F4'
  | 'F6_E2M3'
  | 'F6_E3M2'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'F8_E8M0'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'C64'
  | 'F64'
  | 'I64'
  | 'U64';

interface SafetensorsDTypeInfo {
  /** Bits per element (F4 and F6 pack several elements per byte). */
  readonly bits: number;
  /** The meld dtype the bytes are kept as, when there is one. */
  readonly native?: DType;
  /** Decoder to f32 when there is no native dtype but the values fit f32. */
  readonly toF32?: (bytes: Uint8Array, count: number) => Float32Array;
}

function viewOf<T>(make: (buffer: ArrayBuffer, offset: number, length: number) => T, size: number) {
  return (bytes: Uint8Array, count: number): T => {
    const copy = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
    return make(copy.buffer as ArrayBuffer, copy.byteOffset, count);
  };
}

function widen(read: (bytes: Uint8Array, count: number) => ArrayLike<number>) {
  return (bytes: Uint8Array, count: number): Float32Array => Float32Array.from(read(bytes, count));
}

const infos: Record<SafetensorsDType, SafetensorsDTypeInfo> = {
  BOOL: { bits: 8, toF32: widen((b, n) => b.subarray(0, n)) },
  F4: { bits: 4 },
  F6_E2M3: { bits: 6 },
  F6_E3M2: { bits: 6 },
  U8: { bits: 8, toF32: widen((b, n) => b.subarray(0, n)) },
  I8: { bits: 8, native: 'i8' },
  F8_E5M2: { bits: 8, toF32: (b, n) => decodeF8E5m2(b, n) },
  F8_E4M3: { bits: 8, toF32: (b, n) => decodeF8E4m3(b, n) },
  F8_E8M0: { bits: 8 },
  I16: { bits: 16, toF32: widen(viewOf((a, o, n) => new Int16Array(a, o, n), 2)) },
  U16: { bits: 16, toF32: widen(viewOf((a, o, n) => new Uint16Array(a, o, n), 2)) },
  F16: { bits: 16, native: 'f16' },
  BF16: { bits: 16, native: 'bf16' },
  I32: { bits: 32, toF32: widen(viewOf((a, o, n) => new Int32Array(a, o, n), 4)) },
  U32: { bits: 32, toF32: widen(viewOf((a, o, n) => new Uint32Array(a, o, n), 4)) },
  F32: { bits: 32, native: 'f32' },
  C64: { bits: 64 },
  F64: { bits: 64, toF32: widen(viewOf((a, o, n) => new Float64Array(a, o, n), 8)) },
  I64: { bits: 64 },
  U64: { bits: 64 },
};

export const safetensorsDTypes: readonly SafetensorsDType[] = Object.keys(infos) as SafetensorsDType[];

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(infos, value);
}

export function safetensorsDTypeInfo(dtype: SafetensorsDType): SafetensorsDTypeInfo {
  return infos[dtype];
}

const fromMeld: Partial<Record<DType, SafetensorsDType>> = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
  i8: 'I8',
};

/** The safetensors dtype for a meld dtype; undefined for block-quantized dtypes (GGUF only). */
export function safetensorsDTypeFor(dtype: DType): SafetensorsDType | undefined {
  return fromMeld[dtype];
}
