// meld generate's --kv-* flags (the KV-cache policies of @meld/kv-cache) on stories260K.
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { expect, it } from 'vitest';
import { runMeld } from './run-meld-for-tests';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

describeWithShared('meld generate --kv-policy', files, () => {
  const kvBytes = (stderr: string) => {
    const match = /kv_bytes=(\d+) peak_kv_bytes=(\d+)/.exec(stderr);
    if (!match) throw new Error(`no kv_bytes in: ${stderr}`);
    return { bytes: Number(match[1]), peak: Number(match[2]) };
  };
  const base = [
    'generate',
    '--model',
    sharedFile(files[0] as string),
    '--temperature',
    '0',
    '--steps',
    '200',
  ];

  it('keeps a 35% cache while decoding and reports its bytes; full reports the whole cache', async () => {
    const full = await runMeld([...base, '--kv-policy', 'full']);
    expect(full.code).toBe(0);
    const fullBytes = kvBytes(full.stderr);
    expect(fullBytes.bytes).toBe(fullBytes.peak);
    const compressed = await runMeld([
      ...base,
      '--kv-policy',
      'h2o',
      '--kv-budget',
      '35%',
      '--kv-every',
      '1',
    ]);
    expect(compressed.code).toBe(0);
    const h2o = kvBytes(compressed.stderr);
    // 35% of the tokens, at 4 more bytes per slot for H2O's accumulated attention
    expect(h2o.bytes).toBeLessThanOrEqual(Math.ceil(fullBytes.bytes * 0.35 * (68 / 64)));
    expect(h2o.peak).toBeLessThan(fullBytes.bytes / 2);
    expect(compressed.stdout.length).toBeGreaterThan(100);
  });

  it('accepts policy parameters and names the bad flag', async () => {
    const ok = await runMeld([
      ...base,
      '--kv-policy',
      'kvmerger',
      '--kv-budget',
      '64',
      '--kv-param',
      'threshold=0.9',
    ]);
    expect(ok.code).toBe(0);
    const unknown = await runMeld([...base, '--kv-policy', 'nope', '--kv-budget', '50%']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/--kv-policy/);
    const badParam = await runMeld([
      ...base,
      '--kv-policy',
      'kvmerger',
      '--kv-budget',
      '50%',
      '--kv-param',
      'threshold=9',
    ]);
    expect(badParam.stderr).toMatch(/--kv-param/);
    const noBudget = await runMeld([...base, '--kv-policy', 'h2o']);
    expect(noBudget.stderr).toMatch(/--kv-budget/);
  });

  it('lists the policies in --help', async () => {
    const help = await runMeld(['generate', '--help']);
    for (const name of [
      'full',
      'streaming_llm',
      'h2o',
      'tova',
      'snapkv',
      'cam',
      'kvmerger',
      'merge_on_evict',
    ]) {
      expect(help.stdout + help.stderr).toContain(name);
    }
  });
});
