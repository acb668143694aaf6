// The scheduler: a bounded queue in front of a fixed number of active slots, and one decode loop
// that serves every active task in turn (interleaved decode: each tick gives each active sequence one
// step, i.e. one token, so a long completion never starves a short one). Each sequence keeps its own
// KV cache; the scheduler only sees steps. Between ticks it yields to the event loop so sockets,
// new requests and client disconnects are handled while generation runs.
import { MeldError } from '@meld/tensor-core';

export type TaskOutcome = { kind: 'done' } | { kind: 'aborted' } | { kind: 'error'; error: unknown };

export interface SchedulerTask {
  /** Cancels the task (a client disconnect); checked before every step. */
  readonly signal?: AbortSignal;
  /** Called once when the task gets a slot (allocate the KV cache here, not before). */
  start(): void;
  /** One unit of work (one token); resolves true when the task is complete. */
  step(): Promise<boolean>;
  /** Called exactly once: after completion, cancellation or an error. Must release resources. */
  finish(outcome: TaskOutcome): void;
  /** Bytes the task's KV cache holds now. */
  kvBytes(): number;
}

export class QueueFullError extends MeldError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('queue-full', `the request queue is full; retry after ${retryAfterSeconds} s`);
    this.name = 'QueueFullError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class SchedulerClosedError extends MeldError {
  constructor() {
    super('scheduler-closed', 'the server is shutting down');
    this.name = 'SchedulerClosedError';
  }
}

export interface SchedulerOptions {
  /** Sequences decoded at once. */
  maxActive: number;
  /** Sequences waiting for a slot; beyond this, submit rejects with QueueFullError. */
  maxQueued: number;
}

interface Entry {
  task: SchedulerTask;
  settle: () => void;
}

export class Scheduler {
  readonly maxActive: number;
  readonly maxQueued: number;
  private readonly queue: Entry[] = [];
  private readonly active: Entry[] = [];
  private running = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** Exponential moving average of a task's time in a slot, in ms, for Retry-After. */
  private averageTaskMs = 0;
  private readonly startedAt = new Map<SchedulerTask, number>();

  constructor(options: SchedulerOptions) {
    this.maxActive = options.maxActive;
    this.maxQueued = options.maxQueued;
  }

  get activeCount(): number {
    return this.active.length;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Bytes held by the KV caches of all active sequences. */
  kvBytes(): number {
    let total = 0;
    for (const entry of this.active) total += entry.task.kvBytes();
    return total;
  }

  /** Seconds a rejected client should wait, from the observed time per task. */
  retryAfterSeconds(): number {
    const waves = (this.queue.length + this.active.length) / this.maxActive;
    const seconds = Math.ceil((this.averageTaskMs * Math.max(1, waves)) / 1000);
    return Math.min(60, Math.max(1, seconds));
  }

  /**
   * Queues tasks that belong together (the n choices of one request): all are admitted or none.
   * Throws QueueFullError or SchedulerClosedError at once (before anything is sent to the client);
   * otherwise the promise resolves when every task has finished (each task's `finish` reports how).
   */
  submit(tasks: readonly SchedulerTask[]): Promise<void> {
    if (this.closed) throw new SchedulerClosedError();
    const held = this.active.length + this.queue.length + tasks.length;
    if (held > this.maxActive + this.maxQueued) throw new QueueFullError(this.retryAfterSeconds());
    const done = tasks.map(
      (task) =>
        new Promise<void>((resolve) => {
          this.queue.push({ task, settle: resolve });
        }),
    );
    this.kick();
    return Promise.all(done).then(() => undefined);
  }

  /** Stops accepting tasks; queued and active ones still run. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once nothing is queued or active. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Start on a later turn: the first prefill may be long and the caller is still answering its client.
    setImmediate(() => void this.loop());
  }

  private admit(): void {
    while (this.active.length < this.maxActive && this.queue.length > 0) {
      const entry = this.queue.shift()!;
      if (entry.task.signal?.aborted) {
        this.settle(entry, { kind: 'aborted' });
        continue;
      }
      try {
        entry.task.start();
      } catch (error) {
        this.settle(entry, { kind: 'error', error });
        continue;
      }
      this.startedAt.set(entry.task, performance.now());
      this.active.push(entry);
    }
  }

  private settle(entry: Entry, outcome: TaskOutcome): void {
    const started = this.startedAt.get(entry.task);
    if (started !== undefined) {
      const elapsed = performance.now() - started;
      this.averageTaskMs = this.averageTaskMs === 0 ? elapsed : 0.8 * this.averageTaskMs + 0.2 * elapsed;
      this.startedAt.delete(entry.task);
    }
    try {
      entry.task.finish(outcome);
    } finally {
      entry.settle();
    }
  }

  private retire(entry: Entry, outcome: TaskOutcome): void {
    const index = this.active.indexOf(entry);
    if (index >= 0) this.active.splice(index, 1);
    this.settle(entry, outcome);
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        this.admit();
        if (this.active.length === 0) break;
        // One tick: one step for every active sequence, in admission order.
        for (const entry of [...this.active]) {
          if (entry.task.signal?.aborted) {
            this.retire(entry, { kind: 'aborted' });
            continue;
          }
          try {
            if (await entry.task.step()) this.retire(entry, { kind: 'done' });
          } catch (error) {
            this.retire(entry, { kind: 'error', error });
          }
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
