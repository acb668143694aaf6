// Atomic output folders: everything is written into a hidden sibling folder and renamed into place
// at the end, so a killed or failed job never leaves a half-written OUT_DIR.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ValidationError } from '@meld/tensor-core';

export interface StagedFolder {
  /** Where to write. */
  readonly path: string;
  /** Moves the staged folder to its destination. */
  commit(): void;
  /** Removes the staged folder. */
  abort(): void;
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
