import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stageOutputFolder } from './output-folder';

const root = mkdtempSync(join(tmpdir(), 'meld-stage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('writes nothing into OUT_DIR until commit, and removes what a killed run left behind', () => {
  const target = join(root, 'out');
  // a staging folder of a process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default)
  const stale = join(root, `.out.meld-tmp-${2 ** 22 + 1}-abc`);
  mkdirSync(stale);
  writeFileSync(join(stale, 'model.safetensors'), 'partial');
  const staged = stageOutputFolder(target);
  expect(existsSync(stale)).toBe(false);
  writeFileSync(join(staged.path, 'a.txt'), 'x');
  expect(existsSync(target)).toBe(false);
  staged.commit();
  expect(readdirSync(target)).toEqual(['a.txt']);
  expect(() => stageOutputFolder(target)).toThrow(/not empty/);
  const again = stageOutputFolder(target, true);
  writeFileSync(join(again.path, 'b.txt'), 'y');
  again.commit();
  expect(readdirSync(target)).toEqual(['b.txt']);
  const aborted = stageOutputFolder(join(root, 'other'));
  aborted.abort();
  expect(readdirSync(root).sort()).toEqual(['out']);
});
