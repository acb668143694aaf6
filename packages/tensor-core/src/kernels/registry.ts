// The backend registry: backends are registered explicitly (nothing registers itself on import), resolved by
// priority with lazy async initialization, and when none can start, one error lists why each one failed.
import { MeldError, ValidationError } from '../errors';
import type { BackendV1 } from './contracts';

export type BackendFactory = () => BackendV1 | Promise<BackendV1>;

export interface BackendFailure {
  name: string;
  message: string;
}

/** No backend could start; `failures` names each one tried and why it failed. */
export class BackendUnavailableError extends MeldError {
  readonly failures: readonly BackendFailure[];
  constructor(failures: readonly BackendFailure[]) {
    const lines = failures.map((failure) => `  ${failure.name}: ${failure.message}`).join('\n');
    super('backend-unavailable', `no backend could start:\n${lines || '  (none registered)'}`);
    this.name = 'BackendUnavailableError';
    this.failures = failures;
  }
}

interface Entry {
  name: string;
  priority: number;
  factory: BackendFactory;
  started?: Promise<BackendV1>;
  failure?: string;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class BackendRegistry {
  private readonly entries = new Map<string, Entry>();

  /** Adds (or replaces) a backend; higher priority is tried first. Nothing starts until asked for. */
  register(name: string, priority: number, factory: BackendFactory): void {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new ValidationError('name', `invalid backend name "${name}"`);
    if (!Number.isFinite(priority)) throw new ValidationError('priority', 'must be a finite number');
    this.entries.set(name, { name, priority, factory });
  }

  /** Registered names, highest priority first. */
  names(): string[] {
    return [...this.entries.values()].sort((a, b) => b.priority - a.priority).map((entry) => entry.name);
  }

  /** Starts (once) and returns the named backend; throws BackendUnavailableError when it cannot start. */
  async start(name: string): Promise<BackendV1> {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new BackendUnavailableError([
        { name, message: `not registered (registered: ${this.names().join(', ')})` },
      ]);
    }
    if (entry.failure !== undefined) throw new BackendUnavailableError([{ name, message: entry.failure }]);
    entry.started ??= Promise.resolve()
      .then(entry.factory)
      .catch((error: unknown) => {
        entry.failure = messageOf(error);
        entry.started = undefined;
        throw new BackendUnavailableError([{ name, message: entry.failure }]);
      });
    return entry.started;
  }

  /**
   * The named backend, or the highest-priority one that starts. Failed backends are remembered (not retried)
   * until `reset`. When none starts, throws one BackendUnavailableError listing every failure.
   */
  async get(name?: string): Promise<BackendV1> {
    if (name !== undefined) return this.start(name);
    const failures: BackendFailure[] = [];
    for (const candidate of this.names()) {
      try {
        return await this.start(candidate);
      } catch (error) {
        failures.push(
          ...(error instanceof BackendUnavailableError
            ? error.failures
            : [{ name: candidate, message: messageOf(error) }]),
        );
      }
    }
    throw new BackendUnavailableError(failures);
  }

  /** Every backend that starts here, and every one that did not with its reason. */
  async startAll(): Promise<{ started: BackendV1[]; failures: BackendFailure[] }> {
    const started: BackendV1[] = [];
    const failures: BackendFailure[] = [];
    for (const name of this.names()) {
      try {
        started.push(await this.start(name));
      } catch (error) {
        failures.push(
          ...(error instanceof BackendUnavailableError
            ? error.failures
            : [{ name, message: messageOf(error) }]),
        );
      }
    }
    return { started, failures };
  }

  /** Disposes started backends and forgets failures. */
  async reset(): Promise<void> {
    for (const entry of this.entries.values()) {
      const started = entry.started;
      entry.started = undefined;
      entry.failure = undefined;
      if (started !== undefined) await (await started.catch(() => undefined))?.dispose?.();
    }
  }
}

/** The process-wide registry used by registerBackend / getBackend. */
export const defaultRegistry = new BackendRegistry();

export function registerBackend(name: string, priority: number, factory: BackendFactory): void {
  defaultRegistry.register(name, priority, factory);
}

export function getBackend(name?: string): Promise<BackendV1> {
  return defaultRegistry.get(name);
}
