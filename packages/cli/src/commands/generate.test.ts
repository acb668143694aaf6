import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoraAdapter, Tensor, writePeftAdapter } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { expect, it } from 'vitest';
import { parseAdapterSpec } from './generate';
import { runMeld } from './run-meld-for-tests';

function referenceCases(): { args: string[]; stdout: string }[] {
  const text = readFileSync(sharedFile('models/stories260K/REFERENCE.md'), 'utf8');
  const pattern = /## \d+\. `run [^`]*?-n (\d+)(?: -i "([^"]*)")?`[^\n]*\n```text\n([\s\S]*?)```/g;
  return [...text.matchAll(pattern)].map((m) => ({
    args: ['--temperature', '0', '--steps', m[1]!, ...(m[2] !== undefined ? ['--prompt', m[2]] : [])],
    stdout: m[3]!,
  }));
}

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'models/stories260K/stories260K.gguf',
  'models/stories260K/REFERENCE.md',
];

describeWithShared('meld generate', files, () => {
  it('prints exactly what llama2.c run prints, from the .bin (tokenizer found beside it)', async () => {
    const cases = referenceCases();
    expect(cases).toHaveLength(3);
    for (const reference of cases) {
      const result = await runMeld(['generate', '--model', sharedFile(files[0]!), ...reference.args]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(reference.stdout);
      expect(result.stderr).toMatch(/achieved tok\/s/);
    }
  });

  it('prints the same from the .gguf, with an explicit --tokenizer ignored for GGUF', async () => {
    const reference = referenceCases()[1]!;
    const result = await runMeld(['generate', '--model', sharedFile(files[2]!), ...reference.args]);
    expect(result.stdout).toBe(reference.stdout);
  });

  it('--max-tokens counts new tokens; --stop cuts the text before the stop string', async () => {
    const model = sharedFile(files[0]!);
    const limited = await runMeld([
      'generate',
      '--model',
      model,
      '--temperature',
      '0',
      '--prompt',
      'Lily and Ben',
      '--max-tokens',
      '3',
    ]);
    expect(limited.stderr).toMatch(/generated 3 tokens/);
    const full = referenceCases()[0]!.stdout;
    const stopped = await runMeld(['generate', '--model', model, '--temperature', '0', '--stop', 'Lily.']);
    expect(stopped.stdout).toBe(`${full.slice(0, full.indexOf('Lily.'))}\n`);
    expect(stopped.stderr).toMatch(/\(stop\)/);
  });

  it('sampling with a seed is reproducible', async () => {
    const args = [
      'generate',
      '--model',
      sharedFile(files[0]!),
      '--temperature',
      '0.8',
      '--top-k',
      '40',
      '--seed',
      '42',
      '--max-tokens',
      '40',
    ];
    const first = await runMeld(args);
    const second = await runMeld(args);
    expect(first.stdout).toBe(second.stdout);
    const other = await runMeld([...args.slice(0, -3), '7', '--max-tokens', '40']);
    expect(other.stdout).not.toBe(first.stdout);
  });

  it('rejects bad flags with exit code 2 and names the flag', async () => {
    const result = await runMeld(['generate', '--model', sharedFile(files[0]!), '--temperature', '-1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--temperature/);
    expect((await runMeld(['generate'])).stderr).toMatch(/--model/);
  });

  it('--adapter applies a PEFT adapter at run time; weight 0 changes nothing', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'meld-cli-adapter-'));
    try {
      const random = (n: number, seed: number) =>
        Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
      const modules = [0, 1, 2, 3, 4].map((layer) => ({
        module: `model.layers.${layer}.self_attn.q_proj`,
        kind: 'linear' as const,
        a: Tensor.fromF32(random(4 * 64, layer), [4, 64]),
        b: Tensor.fromF32(random(64 * 4, layer + 10), [64, 4]),
      }));
      writePeftAdapter(
        folder,
        createLoraAdapter({ r: 4, lora_alpha: 16, target_modules: ['q_proj'] }, modules),
      );
      const base = ['generate', '--model', sharedFile(files[0]!), '--temperature', '0', '--max-tokens', '30'];
      const plain = await runMeld(base);
      expect((await runMeld([...base, '--adapter', `${folder}:0`])).stdout).toBe(plain.stdout);
      const adapted = await runMeld([...base, '--adapter', folder]);
      expect(adapted.code).toBe(0);
      expect(adapted.stdout).not.toBe(plain.stdout);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('parses --adapter DIR[:weight]', () => {
    expect(parseAdapterSpec('out/adapter')).toEqual({ folder: 'out/adapter', weight: 1 });
    expect(parseAdapterSpec('out/adapter:0.5')).toEqual({ folder: 'out/adapter', weight: 0.5 });
    expect(parseAdapterSpec('C:/a:-1')).toEqual({ folder: 'C:/a', weight: -1 });
  });
});
