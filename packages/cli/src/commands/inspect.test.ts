import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type GgufValue, openGguf, Tensor, writeGguf, writeSafetensorsSharded } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main';

async function inspect(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const chunks = { stdout: '', stderr: '' };
  const stream = (key: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk, _encoding, done) {
        chunks[key] += String(chunk);
        done();
      },
    });
  const code = await main(['inspect', ...argv], { stdout: stream('stdout'), stderr: stream('stderr') });
  return { code, ...chunks };
}

const folder = mkdtempSync(join(tmpdir(), 'meld-inspect-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const gguf = 'models/stories260K/stories260K.gguf';
const bin = 'models/stories260K/stories260K.bin';

describeWithShared('meld inspect on stories260K', [gguf, bin], () => {
  it('GGUF --json: format, metadata with long arrays summarised, tensors row-major with lowercase dtypes', async () => {
    const { code, stdout } = await inspect([sharedFile(gguf), '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.format).toBe('gguf');
    expect(report.metadata['general.architecture']).toBe('llama');
    expect(report.metadata['llama.block_count']).toBe(5);
    expect(report.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'string', length: 512 });
    expect(report.tensors).toHaveLength(48);
    expect(report.tensors).toContainEqual({ name: 'blk.0.ffn_down.weight', dtype: 'f32', shape: [64, 172] });
    const full = JSON.parse((await inspect([sharedFile(gguf), '--json', '--full'])).stdout);
    expect(full.metadata['tokenizer.ggml.tokens'].slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
  });

  it('llama2.c: header fields as metadata, tensors under Hugging Face names', async () => {
    const report = JSON.parse((await inspect([sharedFile(bin), '--json'])).stdout);
    expect(report.format).toBe('llama2c');
    expect(report.metadata).toEqual({
      dim: 64,
      hidden_dim: 172,
      n_layers: 5,
      n_heads: 8,
      n_kv_heads: 4,
      vocab_size: 512,
      seq_len: 512,
      shared_classifier: true,
    });
    expect(report.tensors).toContainEqual({
      name: 'model.layers.4.self_attn.k_proj.weight',
      dtype: 'f32',
      shape: [32, 64],
    });
    expect(report.tensors).toContainEqual({
      name: 'model.embed_tokens.weight',
      dtype: 'f32',
      shape: [512, 64],
    });
  });

  it('prints a readable table by default', async () => {
    const { code, stdout } = await inspect([sharedFile(gguf)]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/format: gguf \(GGUF v3, alignment 32\)/);
    expect(stdout).toMatch(/tokenizer\.ggml\.tokens = \[string × 512\]/);
    expect(stdout).toMatch(/blk\.0\.attn_q\.weight\s+f32\s+\[64, 64\]/);
  });
});

describe('meld inspect on files written here', () => {
  it('sharded safetensors folder: every shard listed, bf16 lowercase, index metadata', async () => {
    const out = join(folder, 'sharded');
    const tensors = new Map<string, Tensor>();
    for (let i = 0; i < 3; i++)
      tensors.set(`model.layers.${i}.mlp.up_proj.weight`, Tensor.fromF32(new Float32Array(32), [4, 8]));
    tensors.set('model.norm.weight', Tensor.fromBytes('bf16', [8], new Uint8Array(16)));
    writeSafetensorsSharded(out, tensors, { maxShardBytes: 200, metadata: { format: 'pt' } });
    const report = JSON.parse((await inspect([out, '--json'])).stdout);
    expect(report.format).toBe('safetensors');
    expect(report.metadata).toEqual({ format: 'pt', total_size: 3 * 128 + 16 });
    expect(report.tensors).toHaveLength(4);
    expect(report.tensors).toContainEqual({ name: 'model.norm.weight', dtype: 'bf16', shape: [8] });
  });

  it('GGUF u64 above 2^53 prints as a string; q8_0 tensors as q8_0', async () => {
    const path = join(folder, 'big.gguf');
    const metadata: Record<string, GgufValue> = {
      'test.big': { type: 'u64', value: 2n ** 60n + 1n },
      'test.small': { type: 'u64', value: 12 },
    };
    writeGguf(path, {
      metadata,
      tensors: [
        { name: 'w', shape: [2, 32], type: 'Q8_0', data: Tensor.fromF32(new Float32Array(64), [2, 32]) },
      ],
    });
    expect(openGguf(path).info('w').type).toBe('Q8_0');
    const report = JSON.parse((await inspect([path, '--json'])).stdout);
    expect(report.metadata).toEqual({ 'test.big': '1152921504606846977', 'test.small': 12 });
    expect(report.tensors).toEqual([{ name: 'w', dtype: 'q8_0', shape: [2, 32] }]);
  });

  it('bad input is a typed error naming the file (exit 1); bad flags are usage errors (exit 2)', async () => {
    const missing = await inspect([join(folder, 'missing.gguf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/FormatError: .*missing\.gguf/);
    expect((await inspect(['--bogus', 'x'])).code).toBe(2);
    expect((await inspect([])).code).toBe(2);
    const helpText = await inspect(['--help']);
    expect(helpText.stdout).toMatch(/--full/);
  });
});
