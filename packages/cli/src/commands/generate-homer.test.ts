// meld generate --long-context homer on stories260K (trained on 512 tokens) with a longer input.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { expect, it } from 'vitest';
import { runMeld } from './run-meld-for-tests';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

describeWithShared('meld generate --long-context homer', files, () => {
  it('continues an input longer than the context and prints peak_bytes', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'meld-homer-'));
    const promptFile = join(folder, 'long.txt');
    // About 1,000 tokens of stories, twice the trained context.
    writeFileSync(promptFile, readFileSync(sharedFile(files[2] as string), 'utf8').slice(0, 4500));
    const base = ['generate', '--model', sharedFile(files[0] as string), '--prompt-file', promptFile];
    const result = await runMeld([
      ...base,
      '--long-context',
      'homer',
      '--temperature',
      '0',
      '--max-tokens',
      '20',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().length).toBeGreaterThan(10);
    const peak = /peak_bytes=(\d+)/.exec(result.stderr);
    expect(peak).not.toBeNull();
    expect(Number(peak![1])).toBeGreaterThan(0);
    expect(result.stderr).toMatch(/homer: \d{4} input tokens in \d+ chunks/);
    // Without --long-context the same input is refused: it does not fit the context.
    const plain = await runMeld([...base, '--temperature', '0', '--max-tokens', '20']);
    expect(plain.code).not.toBe(0);
    const bad = await runMeld([...base, '--long-context', 'rope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--long-context/);
  });
});
