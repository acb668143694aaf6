// Atomic output folders: everything is written into a hidden sibling folder and renamed into place
// at the end, so a killed or failed job never leaves a half-written OUT_DIR.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type LoraAdapter, ValidationError, writePeftAdapter } from '@meld/tensor-core';

export interface StagedFolder {
  /** Where to write. */
  readonly path: string;
  /** Moves the staged folder to its destination. */
  commit(): void;
  /** Removes the staged folder. */
  abort(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging folders that killed runs left beside `target` (their process is gone). */
export function removeStaleStaging(target: string): string[] {
  const prefix = `.${basename(target)}.meld-tmp-`;
  const removed: string[] = [];
  for (const name of readdirSync(dirname(target))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid)) {
      rmSync(join(dirname(target), name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

export function stageOutputFolder(destination: string, overwrite = false): StagedFolder {
  const target = resolve(destination);
  if (existsSync(target) && readdirSync(target).length > 0 && !overwrite) {
    throw new ValidationError(
      'outputDir',
      `${target} exists and is not empty (pass overwrite to replace it)`,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  removeStaleStaging(target);
  const staging = join(
    dirname(target),
    `.${basename(target)}.meld-tmp-${process.pid}-${Date.now().toString(36)}`,
  );
  mkdirSync(staging);
  return {
    path: staging,
    commit() {
      if (existsSync(target)) {
        const trash = `${staging}-old`;
        renameSync(target, trash);
        renameSync(staging, target);
        rmSync(trash, { recursive: true, force: true });
      } else renameSync(staging, target);
    },
    abort() {
      rmSync(staging, { recursive: true, force: true });
    },
  };
}

/** Writes a PEFT adapter folder through a staged folder: a failure leaves `outputDir` untouched. */
export function writeAdapterFolder(outputDir: string, adapter: LoraAdapter, overwrite = false): void {
  const staged = stageOutputFolder(outputDir, overwrite);
  try {
    writePeftAdapter(staged.path, adapter);
    staged.commit();
  } catch (error) {
    staged.abort();
    throw error;
  }
}
