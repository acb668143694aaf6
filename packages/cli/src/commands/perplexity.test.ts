import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { runMeld } from './run-meld-for-tests';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

describeWithShared('meld perplexity', files, () => {
  const folder = mkdtempSync(join(tmpdir(), 'meld-cli-ppl-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('prints mean NLL and perplexity = exp(mean NLL); stories260K is far better than uniform on TinyStories', async () => {
    const text = readFileSync(sharedFile(files[2]!), 'utf8').slice(0, 3000);
    const path = join(folder, 'text.txt');
    writeFileSync(path, text);
    const result = await runMeld([
      'perplexity',
      '--model',
      sharedFile(files[0]!),
      '--text-file',
      path,
      '--context',
      '256',
      '--stride',
      '128',
    ]);
    expect(result.code).toBe(0);
    const values = Object.fromEntries(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(' ')),
    );
    const meanNll = Number(values.mean_nll);
    expect(Number(values.perplexity)).toBeCloseTo(Math.exp(meanNll), 2);
    expect(Number(values.tokens)).toBeGreaterThan(500);
    // Uniform over 512 tokens is ln 512 = 6.24 nats.
    expect(meanNll).toBeLessThan(3);
    expect(meanNll).toBeGreaterThan(0.5);
  });

  it('requires --text-file', async () => {
    const result = await runMeld(['perplexity', '--model', sharedFile(files[0]!)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/text-file/);
  });
});
