// File IO the main thread does while row workers compute: the previous task's output, written
// in pieces of at most 8 MiB. RowWorkerPool.run takes one piece between its polls for the workers,
// so writing overlaps the element-wise work while the merge stays synchronous (no event loop, no
// promises). `finish(ticket)` completes a job and those before it; `drain()` everything.

/** One queued transfer: `step()` moves the next piece and says whether the transfer is complete. */
export interface BackgroundJob {
  step(): boolean;
}

const pieceBytes = 8 << 20;

export class BackgroundIO {
  private readonly queue: BackgroundJob[] = [];
  private added = 0;
  private finished = 0;

  /** Queues a job; returns its ticket (see `finish`). */
  add(job: BackgroundJob): number {
    this.queue.push(job);
    return ++this.added;
  }

  /** Moves one piece of the oldest job; false when nothing is queued. */
  step(): boolean {
    const job = this.queue[0];
    if (job === undefined) return false;
    if (job.step()) {
      this.queue.shift();
      this.finished++;
    }
    return true;
  }

  /** Completes the job with this ticket and every job queued before it. */
  finish(ticket: number): void {
    while (this.finished < ticket && this.step()) {}
  }

  /** Completes every queued job, in order. */
  drain(): void {
    while (this.step()) {}
  }
}

/** A job moving `byteLength` bytes in pieces: `move(offset, length)` transfers one. */
export function piecewise(byteLength: number, move: (offset: number, length: number) => void): BackgroundJob {
  let offset = 0;
  return {
    step() {
      const length = Math.min(pieceBytes, byteLength - offset);
      if (length > 0) move(offset, length);
      offset += length;
      return offset >= byteLength;
    },
  };
}
