// Atomic file output: write to a temporary file in the destination folder, then rename over the
// destination. A failure (or a crash) leaves no half-written file under the final name.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export function temporaryPathFor(path: string): string {
  counter += 1;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter}.tmp`);
}

/** An open temporary file that becomes `path` on `commit()` and disappears on `abort()`. */
export class AtomicFileWriter {
  readonly path: string;
  readonly temporaryPath: string;
  private fd: number | undefined;
  /** Bytes written so far. */
  position = 0;

  constructor(path: string) {
    this.path = path;
    this.temporaryPath = temporaryPathFor(path);
    this.fd = openSync(this.temporaryPath, 'w');
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: write after close`);
    let done = 0;
    while (done < bytes.byteLength) {
      done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
    }
    this.position += bytes.byteLength;
  }

  commit(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.temporaryPath, this.path);
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.temporaryPath, { force: true });
  }
}

/** Writes `bytes` to `path` atomically. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const writer = new AtomicFileWriter(path);
  try {
    writer.write(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
}
