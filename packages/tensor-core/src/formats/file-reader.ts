// Bounded random-access reads from a file on disk. Every read is checked against the file size
// before any memory is allocated, so a forged length in a header can never size an allocation.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FormatError } from '../errors';

/** Largest single read: larger requests are split (readSync takes at most 2^31 - 1 bytes). */
const chunkBytes = 1 << 30;

export class RandomAccessFile {
  readonly path: string;
  readonly size: number;
  private fd: number | undefined;
  /** Total bytes read so far (lets tests check that reads stay lazy). */
  bytesRead = 0;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = openSync(path, 'r');
      this.size = fstatSync(this.fd).size;
    } catch (error) {
      throw new FormatError(path, 'file', `cannot open: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Throws FormatError(field) unless [offset, offset + length) lies inside the file. */
  check(offset: number, length: number, field: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new FormatError(this.path, field, `invalid range (offset ${offset}, length ${length})`);
    }
    if (offset + length > this.size) {
      throw new FormatError(
        this.path,
        field,
        `needs bytes [${offset}, ${offset + length}) but the file has ${this.size} bytes (truncated?)`,
      );
    }
  }

  /** Reads `length` bytes at `offset` into a fresh (4-byte aligned) buffer. */
  read(offset: number, length: number, field: string, into?: Uint8Array): Uint8Array {
    this.check(offset, length, field);
    if (this.fd === undefined) throw new FormatError(this.path, field, 'file is closed');
    const out = into ?? new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(chunkBytes, length - done), offset + done);
      if (n <= 0) throw new FormatError(this.path, field, `unexpected end of file at byte ${offset + done}`);
      done += n;
    }
    this.bytesRead += length;
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
