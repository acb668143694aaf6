// GGUF value types and GGML tensor types (ggml/include/ggml.h `enum ggml_type`, block sizes and
// bytes per block from ggml/src/ggml.c `type_traits`). Types without a meld dtype can be listed
// (inspect) but not decoded.
import type { DType } from '../dtype';

export type GgufScalarType =
  | 'u8'
  | 'i8'
  | 'u16'
  | 'i16'
  | 'u32'
  | 'i32'
  | 'f32'
  | 'bool'
  | 'string'
  | 'u64'
  | 'i64'
  | 'f64';
export type GgufValueType = GgufScalarType | 'array';

/** GGUF metadata value type ids, in file order (gguf.h `enum gguf_type`). */
export const ggufValueTypeIds: readonly GgufValueType[] = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
];

/** Encoded size of a scalar (strings: the 8-byte length prefix only). */
export const ggufScalarBytes: Readonly<Record<GgufScalarType, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  string: 8,
  u64: 8,
  i64: 8,
  f64: 8,
};

export interface GgmlTypeInfo {
  readonly id: number;
  /** ggml's name, e.g. 'Q8_0'. */
  readonly name: string;
  readonly blockSize: number;
  readonly blockBytes: number;
  /** The meld dtype holding these bytes unchanged, when there is one. */
  readonly dtype?: DType;
}

const table: GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, blockBytes: 4, dtype: 'f32' },
  { id: 1, name: 'F16', blockSize: 1, blockBytes: 2, dtype: 'f16' },
  { id: 2, name: 'Q4_0', blockSize: 32, blockBytes: 18, dtype: 'q4_0' },
  { id: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, blockBytes: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, blockBytes: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34, dtype: 'q8_0' },
  { id: 9, name: 'Q8_1', blockSize: 32, blockBytes: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, blockBytes: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, blockBytes: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, blockBytes: 144, dtype: 'q4_k' },
  { id: 13, name: 'Q5_K', blockSize: 256, blockBytes: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, blockBytes: 210, dtype: 'q6_k' },
  { id: 15, name: 'Q8_K', blockSize: 256, blockBytes: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: 256, blockBytes: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: 256, blockBytes: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: 256, blockBytes: 98 },
  { id: 19, name: 'IQ1_S', blockSize: 256, blockBytes: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, blockBytes: 18 },
  { id: 21, name: 'IQ3_S', blockSize: 256, blockBytes: 110 },
  { id: 22, name: 'IQ2_S', blockSize: 256, blockBytes: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, blockBytes: 136 },
  { id: 24, name: 'I8', blockSize: 1, blockBytes: 1, dtype: 'i8' },
  { id: 25, name: 'I16', blockSize: 1, blockBytes: 2 },
  { id: 26, name: 'I32', blockSize: 1, blockBytes: 4 },
  { id: 27, name: 'I64', blockSize: 1, blockBytes: 8 },
  { id: 28, name: 'F64', blockSize: 1, blockBytes: 8 },
  { id: 29, name: 'IQ1_M', blockSize: 256, blockBytes: 56 },
  { id: 30, name: 'BF16', blockSize: 1, blockBytes: 2, dtype: 'bf16' },
  { id: 34, name: 'TQ1_0', blockSize: 256, blockBytes: 54 },
  { id: 35, name: 'TQ2_0', blockSize: 256, blockBytes: 66 },
  { id: 39, name: 'MXFP4', blockSize: 32, blockBytes: 17 },
];

const byId = new Map(table.map((t) => [t.id, t]));
const byDType = new Map(table.filter((t) => t.dtype).map((t) => [t.dtype!, t]));

export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return byId.get(id);
}

/** The GGML type storing a meld dtype. */
export function ggmlTypeForDType(dtype: DType): GgmlTypeInfo {
  return byDType.get(dtype)!;
}
