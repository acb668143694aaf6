import { DTypeError } from '../errors';

/** Throws unless `count` is whole blocks and `bytes` holds them all; returns the block count. */
export function checkBlocks(
  dtype: string,
  bytes: Uint8Array,
  count: number,
  blockSize: number,
  blockBytes: number,
): number {
  if (!Number.isSafeInteger(count) || count < 0 || count % blockSize !== 0) {
    throw new DTypeError(dtype, `${count} elements is not a whole number of ${blockSize}-element blocks`);
  }
  const blocks = count / blockSize;
  if (bytes.byteLength < blocks * blockBytes) {
    throw new DTypeError(
      dtype,
      `${count} elements need ${blocks * blockBytes} bytes, got ${bytes.byteLength}`,
    );
  }
  return blocks;
}

/** Throws unless `count` is whole blocks; returns the block count. */
export function checkCount(dtype: string, count: number, blockSize: number): number {
  if (!Number.isSafeInteger(count) || count < 0 || count % blockSize !== 0) {
    throw new DTypeError(dtype, `${count} elements is not a whole number of ${blockSize}-element blocks`);
  }
  return count / blockSize;
}
