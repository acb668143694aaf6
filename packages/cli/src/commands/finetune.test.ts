import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import { parseTargetModules } from './finetune';
import { runGreedyGenerate, runMeld } from './run-meld-for-tests';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'data/tinystories/tinystories_val.txt',
];

it('parses --target-modules like PEFT (list, regex:, all-linear)', () => {
  expect(parseTargetModules('q_proj, v_proj')).toEqual(['q_proj', 'v_proj']);
  expect(parseTargetModules('regex:.*\\.(q|v)_proj')).toBe('.*\\.(q|v)_proj');
  expect(parseTargetModules('all-linear')).toBe('all-linear');
});

describeWithShared('meld finetune', files, () => {
  const folder = mkdtempSync(join(tmpdir(), 'meld-cli-finetune-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const stories = readFileSync(sharedFile(files[2]), 'utf8')
    .split(/\n\n(?=Once upon a time)/)
    .slice(1, 9);
  const data = join(folder, 'train.jsonl');
  writeFileSync(
    data,
    `${stories.map((s) => JSON.stringify({ instruction: 'Tell me a story.', output: s.trim() })).join('\n')}\n`,
  );
  const out = join(folder, 'adapter');
  const common = [
    '--model',
    sharedFile(files[0]),
    '--data',
    data,
    '--out',
    out,
    '--rank',
    '4',
    '--alpha',
    '8',
  ];
  const shape = [
    '--batch',
    '2',
    '--seq-len',
    '32',
    '--lr',
    '1e-2',
    '--save-every',
    '2',
    '--template',
    'plain',
  ];

  it('trains, checkpoints, writes a PEFT adapter that meld generate applies, and resumes', async () => {
    const first = await runMeld([
      'finetune',
      ...common,
      ...shape,
      '--max-steps',
      '3',
      '--target-modules',
      'q_proj,v_proj',
    ]);
    expect(first.stderr).toMatch(/step 3\/3 loss [\d.]+ lr [\d.e+-]+ \d+ tok\/s ETA/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^adapter .*\nsteps 3\n/);
    for (const name of [
      'adapter_model.safetensors',
      'adapter_config.json',
      'loss-curve.svg',
      'checkpoint-2/optimizer.safetensors',
    ]) {
      expect(existsSync(join(out, name))).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj'],
      peft_type: 'LORA',
    });

    const greedy = (...extra: string[]) => runGreedyGenerate(sharedFile(files[0]), '--steps', '40', ...extra);
    const base = await greedy();
    const adapted = await greedy('--adapter', out);
    expect(adapted.code).toBe(0);
    expect(adapted.stdout.length).toBeGreaterThan(20);
    expect(adapted.stdout).not.toBe(base.stdout);

    const resumed = await runMeld([
      'finetune',
      ...common,
      ...shape,
      '--max-steps',
      '4',
      '--target-modules',
      'q_proj,v_proj',
      '--resume',
    ]);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`resuming from ${join(out, 'checkpoint-2')} (step 2)`);
    expect(resumed.stdout).toMatch(/steps 4\n/);
  });

  it('names a missing flag', async () => {
    const result = await runMeld(['finetune', '--model', sharedFile(files[0]), '--out', out]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--data/);
  });
});
