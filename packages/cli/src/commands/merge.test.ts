// meld merge and meld lora on real files: stories260K converted to a Hugging Face folder, merged,
// then loaded and run by the runtime (meld generate).
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensorsModel, Tensor, writeSafetensors } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseByteSize } from '../options/byte-size';
import { runMeld } from './run-meld-for-tests';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'models/stories260K/REFERENCE.md',
];

export function firstReference(): string {
  const text = readFileSync(sharedFile(files[2]!), 'utf8');
  return /## 1\.[^\n]*\n```text\n([\s\S]*?)```/.exec(text)![1]!;
}

export function copyFolder(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from)) copyFileSync(join(from, file), join(to, file));
}

/** A copy of an HF folder with every tensor perturbed by seeded noise (a fine-tune stand-in). */
export function perturbedCopy(from: string, to: string, seed: number, scale: number): string {
  const model = openSafetensorsModel(from);
  let state = seed;
  const tensors: Record<string, Tensor> = {};
  for (const name of model.names) {
    const values = model.readTensor(name).toFloat32().slice();
    for (let i = 0; i < values.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      values[i]! += scale * (state / 4294967296 - 0.5);
    }
    tensors[name] = Tensor.fromF32(values, model.info(name).shape);
  }
  model.close();
  copyFolder(from, to);
  for (const file of readdirSync(to))
    if (file.endsWith('.safetensors') || file.endsWith('.index.json')) rmSync(join(to, file));
  writeSafetensors(join(to, 'model.safetensors'), tensors);
  return to;
}

describeWithShared('meld merge', files, () => {
  let root: string;
  let base: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'meld-cli-merge-'));
    base = join(root, 'base');
    const converted = await runMeld(['convert', sharedFile(files[0]!), '--to', 'hf', base]);
    expect(converted.code).toBe(0);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a frankenmerge that reassembles the model from two folders generates llama2.c’s reference text', async () => {
    const copy = join(root, 'copy');
    copyFolder(base, copy);
    const config = join(root, 'franken.yml');
    writeFileSync(
      config,
      `slices:\n  - sources:\n      - model: base\n        layer_range: [0, 2]\n  - sources:\n      - model: copy\n        layer_range: [2, 5]\nmerge_method: passthrough\n`,
    );
    const out = join(root, 'franken-out');
    const merged = await runMeld(['merge', config, out, '--out-shard-size', '300K', '--no-progress']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/merged \d+ tensors .* into/);
    expect(existsSync(join(out, 'model.safetensors.index.json'))).toBe(true);
    const generated = await runMeld(['generate', '--model', out, '--temperature', '0', '--steps', '256']);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toBe(firstReference());
  });

  it('a ties merge of fine-tune-like variants loads and generates; the summary reports the work', async () => {
    perturbedCopy(base, join(root, 'tuned-a'), 1, 0.02);
    perturbedCopy(base, join(root, 'tuned-b'), 2, 0.02);
    const config = join(root, 'ties.yml');
    writeFileSync(
      config,
      [
        'merge_method: ties',
        'base_model: base',
        'models:',
        '  - model: tuned-a',
        '    parameters: {weight: 0.5, density: [0.3, 0.9]}',
        '  - model: tuned-b',
        '    parameters: {weight: 0.5, density: 0.5}',
        'dtype: bfloat16',
        '',
      ].join('\n'),
    );
    const out = join(root, 'ties-out');
    const merged = await runMeld(['merge', config, out, '--seed', '3']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/read .* wrote .* in 1 file\(s\): model\.safetensors/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('density: [0.3, 0.9]');
    const generated = await runMeld(['generate', '--model', out, '--temperature', '0', '--max-tokens', '30']);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout.length).toBeGreaterThan(20);
    // one thread with the plain JS kernels writes the very same bytes
    const plain = join(root, 'ties-plain');
    const again = await runMeld(['merge', config, plain, '--seed', '3', '--threads', '1', '--no-simd']);
    expect(again.code, again.stderr).toBe(0);
    const file = 'model.safetensors';
    expect(Buffer.compare(readFileSync(join(out, file)), readFileSync(join(plain, file)))).toBe(0);
  });

  it('errors: bad flags exit 2, a config error names the file line, OUT_DIR stays absent', async () => {
    expect((await runMeld(['merge', 'only-one-arg'])).code).toBe(2);
    expect((await runMeld(['merge', 'a.yml', 'out', '--dtype', 'float8'])).stderr).toMatch(/--dtype/);
    expect((await runMeld(['merge', 'a.yml', 'out', '--threads', '0'])).stderr).toMatch(/--threads/);
    const config = join(root, 'bad.yml');
    writeFileSync(config, 'merge_method: linear\nmodels:\n  - model: base\n    parameters: {weigth: 1}\n');
    const out = join(root, 'bad-out');
    const result = await runMeld(['merge', config, out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/models\[0\]\.parameters\.weigth.*bad\.yml:4/);
    expect(existsSync(out)).toBe(false);
    expect((await runMeld(['merge', '--help'])).stdout).toMatch(/--out-shard-size/);
  });

  it('parses shard sizes in bytes with K/M/G suffixes', () => {
    expect(parseByteSize('5G')).toBe(5e9);
    expect(parseByteSize('500M')).toBe(5e8);
    expect(parseByteSize('100K')).toBe(1e5);
    expect(parseByteSize('2Gi')).toBe(2 ** 31);
    expect(parseByteSize('1234')).toBe(1234);
    expect(() => parseByteSize('5 parsecs')).toThrow(/not a size/);
  });
});
