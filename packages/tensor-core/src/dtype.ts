import { DTypeError } from './errors';

/** Element types. Block-quantized types (GGUF) store `blockSize` elements in `blockBytes` bytes. */
export type DType = 'f32' | 'f16' | 'bf16' | 'i8' | 'q8_0' | 'q4_0' | 'q4_k' | 'q6_k';

export interface DTypeInfo {
  readonly name: DType;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  readonly quantized: boolean;
}

const infos: Record<DType, DTypeInfo> = {
  f32: { name: 'f32', blockSize: 1, blockBytes: 4, quantized: false },
  f16: { name: 'f16', blockSize: 1, blockBytes: 2, quantized: false },
  bf16: { name: 'bf16', blockSize: 1, blockBytes: 2, quantized: false },
  i8: { name: 'i8', blockSize: 1, blockBytes: 1, quantized: false },
  q8_0: { name: 'q8_0', blockSize: 32, blockBytes: 34, quantized: true },
  q4_0: { name: 'q4_0', blockSize: 32, blockBytes: 18, quantized: true },
  q4_k: { name: 'q4_k', blockSize: 256, blockBytes: 144, quantized: true },
  q6_k: { name: 'q6_k', blockSize: 256, blockBytes: 210, quantized: true },
};

export const dtypes: readonly DType[] = Object.keys(infos) as DType[];

export function isDType(value: string): value is DType {
  return Object.hasOwn(infos, value);
}

export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = infos[dtype];
  if (!info) throw new DTypeError(String(dtype), 'unknown dtype');
  return info;
}

/** Bytes needed for `count` elements; throws when `count` is not a whole number of blocks. */
export function byteLength(dtype: DType, count: number): number {
  const info = dtypeInfo(dtype);
  if (count % info.blockSize !== 0) {
    throw new DTypeError(dtype, `${count} elements is not a multiple of the block size ${info.blockSize}`);
  }
  return (count / info.blockSize) * info.blockBytes;
}
