// The scheduler on its own: round-robin ticks, all-or-nothing admission of a request's tasks, the queue
// bound, cancellation before and during decoding, and errors isolated to their task.
import { describe, expect, it } from 'vitest';
import {
  QueueFullError,
  Scheduler,
  SchedulerClosedError,
  type SchedulerTask,
  type TaskOutcome,
} from './scheduler';

/** A task of `steps` steps that logs each step as `name:index`. */
function countingTask(
  name: string,
  steps: number,
  log: string[],
  options: { signal?: AbortSignal; failAt?: number } = {},
) {
  let done = 0;
  const outcomes: TaskOutcome[] = [];
  const task: SchedulerTask = {
    ...(options.signal ? { signal: options.signal } : {}),
    start: () => log.push(`${name}:start`),
    step: async () => {
      if (options.failAt === done) throw new Error(`${name} failed`);
      log.push(`${name}:${done}`);
      done++;
      return done >= steps;
    },
    finish: (outcome) => outcomes.push(outcome),
    kvBytes: () => done * 10,
  };
  return { task, outcomes };
}

describe('Scheduler', () => {
  it('gives every active task one step per tick, in admission order', async () => {
    const scheduler = new Scheduler({ maxActive: 3, maxQueued: 0 });
    const log: string[] = [];
    const a = countingTask('a', 3, log);
    const b = countingTask('b', 1, log);
    const c = countingTask('c', 2, log);
    await Promise.all([scheduler.submit([a.task]), scheduler.submit([b.task, c.task])]);
    expect(log).toEqual(['a:start', 'b:start', 'c:start', 'a:0', 'b:0', 'c:0', 'a:1', 'c:1', 'a:2']);
    expect([a, b, c].map((t) => t.outcomes)).toEqual([
      [{ kind: 'done' }],
      [{ kind: 'done' }],
      [{ kind: 'done' }],
    ]);
  });

  it('admits queued tasks when slots free up, and rejects beyond the queue', async () => {
    const scheduler = new Scheduler({ maxActive: 1, maxQueued: 1 });
    const log: string[] = [];
    const first = scheduler.submit([countingTask('a', 2, log).task]);
    const second = scheduler.submit([countingTask('b', 1, log).task]);
    expect(() => scheduler.submit([countingTask('c', 1, log).task])).toThrow(QueueFullError);
    // A request's tasks are admitted together or not at all.
    expect(() => scheduler.submit([countingTask('d', 1, log).task])).toThrow(QueueFullError);
    expect(scheduler.queuedCount).toBe(2);
    await Promise.all([first, second]);
    expect(log).toEqual(['a:start', 'a:0', 'a:1', 'b:start', 'b:0']);
    expect(scheduler.retryAfterSeconds()).toBeGreaterThanOrEqual(1);
  });

  it('cancels tasks whose signal aborts, queued or active', async () => {
    const scheduler = new Scheduler({ maxActive: 1, maxQueued: 4 });
    const log: string[] = [];
    const controller = new AbortController();
    const running = countingTask('a', 100, log, { signal: controller.signal });
    const queuedController = new AbortController();
    const queued = countingTask('b', 1, log, { signal: queuedController.signal });
    const done = Promise.all([scheduler.submit([running.task]), scheduler.submit([queued.task])]);
    queuedController.abort();
    while (log.length < 3) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await done;
    expect(running.outcomes).toEqual([{ kind: 'aborted' }]);
    expect(queued.outcomes).toEqual([{ kind: 'aborted' }]);
    expect(log).not.toContain('b:start');
    expect(log.length).toBeLessThan(100);
  });

  it('a failing task ends alone; close() refuses new work and idle() waits for the rest', async () => {
    const scheduler = new Scheduler({ maxActive: 2, maxQueued: 0 });
    const log: string[] = [];
    const failing = countingTask('a', 5, log, { failAt: 1 });
    const healthy = countingTask('b', 3, log);
    const done = Promise.all([scheduler.submit([failing.task]), scheduler.submit([healthy.task])]);
    scheduler.close();
    expect(() => scheduler.submit([countingTask('c', 1, log).task])).toThrow(SchedulerClosedError);
    await scheduler.idle();
    await done;
    expect(failing.outcomes[0]!.kind).toBe('error');
    expect(healthy.outcomes).toEqual([{ kind: 'done' }]);
    expect(log.filter((entry) => entry.startsWith('b:'))).toEqual(['b:start', 'b:0', 'b:1', 'b:2']);
  });
});
