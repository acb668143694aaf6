// What meld prints besides a command's results: warnings, errors and the exit codes they map to.
import { MeldError } from '@meld/tensor-core';
import { type CommandIO, UsageError } from './command';

/** Exit codes of `meld` (documented in README.md). */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

/** One `warning: ...` line on stderr per warning. */
export function printWarnings(io: CommandIO, warnings: readonly string[]): void {
  for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`);
}

function isSystemError(error: unknown): error is Error & { code: string; path?: string } {
  return (
    error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && 'syscall' in error
  );
}

/**
 * Prints an error the user can act on and returns the exit code: usage errors (2) with a pointer
 * to --help, meld's typed errors and file-system errors (1) on one line. Anything else is a bug
 * and is rethrown (meld.ts prints its stack).
 */
export function reportError(io: CommandIO, commandName: readonly string[], error: unknown): number {
  const prefix = `meld ${commandName.join(' ')}`;
  if (error instanceof UsageError) {
    io.stderr.write(`${prefix}: ${error.message}\n(see ${prefix} --help)\n`);
    return exitCodes.usage;
  }
  if (MeldError.isInstance(error)) {
    io.stderr.write(`${prefix}: ${error.name}: ${error.message}\n`);
    return exitCodes.failure;
  }
  if (isSystemError(error)) {
    io.stderr.write(`${prefix}: ${error.message}\n`);
    return exitCodes.failure;
  }
  throw error;
}
