// Locates the ../shared models and data that tests and demos use.
// MELD_SHARED overrides the location; the default is the `shared` folder beside the repository.
// When files are absent, tests skip with a message naming them, unless MELD_REQUIRE_SHARED=1
// (set by .ci/run), in which case a missing file fails the run.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function sharedRoot(): string {
  return process.env.MELD_SHARED ? resolve(process.env.MELD_SHARED) : resolve(repoRoot, '..', 'shared');
}

export function sharedFile(relativePath: string): string {
  return join(sharedRoot(), relativePath);
}

export interface SharedStatus {
  ok: boolean;
  missing: string[];
  message: string;
}

export function sharedAvailable(relativePaths: readonly string[]): SharedStatus {
  const missing = relativePaths.filter((p) => !existsSync(sharedFile(p)));
  const message =
    missing.length === 0
      ? ''
      : `shared files missing under ${sharedRoot()} (set MELD_SHARED): ${missing.join(', ')}`;
  if (missing.length > 0 && process.env.MELD_REQUIRE_SHARED === '1') {
    throw new Error(`MELD_REQUIRE_SHARED=1 but ${message}`);
  }
  return { ok: missing.length === 0, missing, message };
}

/** `describe` that skips (with the list of missing files in its title) when shared files are absent. */
export function describeWithShared(name: string, relativePaths: readonly string[], body: () => void): void {
  const status = sharedAvailable(relativePaths);
  if (status.ok) describe(name, body);
  else describe.skip(`${name} [skipped: ${status.message}]`, body);
}
