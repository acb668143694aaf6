import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { runGreedyGenerate, runMeld } from './run-meld-for-tests';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

describeWithShared('meld convert', files, () => {
  const folder = mkdtempSync(join(tmpdir(), 'meld-cli-convert-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const generate = (model: string) =>
    runGreedyGenerate(model, '--prompt', 'Lily and Ben went to the zoo', '--max-tokens', '14');

  it('converts stories260K to an HF folder and to GGUF; both generate the same greedy text', async () => {
    const hf = join(folder, 'hf');
    const gguf = join(folder, 'model.gguf');
    expect((await runMeld(['convert', sharedFile(files[0]!), '--to', 'hf', hf])).code).toBe(0);
    expect(existsSync(join(hf, 'model.safetensors'))).toBe(true);
    expect(existsSync(join(hf, 'tokenizer.json'))).toBe(true);
    expect(
      (await runMeld(['convert', sharedFile(files[0]!), '--to', 'gguf', '--dtype', 'f32', gguf])).code,
    ).toBe(0);
    const baseline = (await generate(sharedFile(files[0]!))).stdout;
    expect(baseline.startsWith('Lily and Ben went to the zoo with their mom. They saw a big box')).toBe(true);
    expect((await generate(hf)).stdout).toBe(baseline);
    expect((await generate(gguf)).stdout).toBe(baseline);
  });

  it('q8_0 GGUF is written and runs', async () => {
    const path = join(folder, 'q8.gguf');
    const result = await runMeld(['convert', sharedFile(files[0]!), '--to', 'gguf', '--dtype', 'q8_0', path]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/written as f16/);
    expect((await generate(path)).code).toBe(0);
  });

  it('rejects q8_0 for safetensors, naming --dtype', async () => {
    const result = await runMeld([
      'convert',
      sharedFile(files[0]!),
      '--to',
      'hf',
      '--dtype',
      'q8_0',
      join(folder, 'x'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/dtype/);
  });
});
