// meld-serve's command line: flags, YAML configs, the "listening on" line, and that requests can
// only name configured models (never a path).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { type CliResult, runCli } from './cli';
import { defaultModelName, isHubId, loadServeConfigFile, resolveModelSource } from './config';
import { postJson, referenceText, STORIES_FILES } from './test-helpers';

function capture() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (text: string) => {
        out.stdout += text;
      },
      stderr: (text: string) => {
        out.stderr += text;
      },
      env: {},
    },
  };
}

describe('meld-serve flags', () => {
  it('--help explains every flag', async () => {
    const { out, io } = capture();
    expect(await runCli(['--help'], io)).toEqual({ kind: 'exit', code: 0 });
    for (const flag of [
      '--config',
      '--model',
      '--model-name',
      '--tokenizer',
      '--host',
      '--port',
      '--api-key',
    ]) {
      expect(out.stdout).toContain(flag);
    }
  });

  it('rejects unknown flags, bad ports and missing models with exit code 2', async () => {
    for (const argv of [
      ['--nope'],
      ['--model', 'x.bin', '--port', '70000'],
      [],
      ['--config', 'a.yml', '--model', 'b'],
    ]) {
      const { out, io } = capture();
      expect(await runCli(argv, io)).toEqual({ kind: 'exit', code: 2 });
      expect(out.stderr).toMatch(/^meld-serve: /);
    }
  });

  it('model names and sources', () => {
    expect(defaultModelName('/models/stories260K.bin')).toBe('stories260K');
    expect(defaultModelName('hf:TinyLlama/TinyLlama-1.1B-Chat-v1.0')).toBe('TinyLlama-1.1B-Chat-v1.0');
    expect(isHubId('Qwen/Qwen2-0.5B')).toBe(true);
    expect(isHubId('./models/x')).toBe(false);
    expect(resolveModelSource('Qwen/Qwen2-0.5B', '/nowhere')).toBe('hf:Qwen/Qwen2-0.5B');
    expect(resolveModelSource('model.gguf', '/srv')).toBe('/srv/model.gguf');
  });
});

describeWithShared('meld-serve start', [...STORIES_FILES, 'models/stories260K/stories260K.gguf'], () => {
  async function withServer(result: CliResult, use: (url: string) => Promise<void>) {
    expect(result.kind).toBe('serving');
    if (result.kind !== 'serving') return;
    try {
      await use(result.server.url);
    } finally {
      await result.server.close();
    }
  }

  it('--model serves one model and prints exactly the listening line', async () => {
    const { out, io } = capture();
    const result = await runCli(
      ['--model', sharedFile('models/stories260K/stories260K.bin'), '--port', '0'],
      io,
    );
    expect(out.stdout).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    await withServer(result, async (url) => {
      expect(out.stdout).toBe(`listening on ${url}\n`);
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((model) => model.id)).toEqual(['stories260K']);
    });
  });

  it('--model serves a GGUF file too (tokenizer inside), with the same greedy text', async () => {
    const { io } = capture();
    const argv = [
      '--model',
      sharedFile('models/stories260K/stories260K.gguf'),
      '--model-name',
      'g',
      '--port',
      '0',
    ];
    await withServer(await runCli(argv, io), async (url) => {
      const prompt = 'Lily and Ben went to the zoo';
      const response = await postJson({ url } as Parameters<typeof postJson>[0], '/v1/completions', {
        model: 'g',
        prompt,
        max_tokens: 40,
        temperature: 0,
      });
      const text = (response.json as { choices: Array<{ text: string }> }).choices[0]!.text;
      expect(referenceText(2).startsWith(prompt + text)).toBe(true);
      expect(text.length).toBeGreaterThan(80);
    });
  });

  it('--config reads YAML with paths relative to the file; requests cannot name paths', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'meld-serve-'));
    const file = join(folder, 'serve.yml');
    const model = relative(folder, sharedFile('models/stories260K/stories260K.bin'));
    writeFileSync(
      file,
      [
        'host: 127.0.0.1',
        'port: 0',
        'api_key: from-config',
        'limits:',
        '  max_tokens: 64',
        'models:',
        '  - name: tiny',
        `    source: ${model}`,
        '    kv_cache: { policy: streaming_llm, budget: 35% }',
      ].join('\n'),
    );
    const config = await loadServeConfigFile(file);
    expect(config.models[0]!.source).toBe(sharedFile('models/stories260K/stories260K.bin'));
    const { io } = capture();
    await withServer(await runCli(['--config', file], io), async (url) => {
      const server = { url } as Parameters<typeof postJson>[0];
      const headers = { authorization: 'Bearer from-config' };
      const ok = await postJson(
        server,
        '/v1/completions',
        { model: 'tiny', prompt: 'Once', max_tokens: 8 },
        headers,
      );
      expect(ok.status).toBe(200);
      // The model's configured default policy applies to requests naming none.
      expect(ok.json, JSON.stringify(ok.json)).toMatchObject({
        usage: { meld: { kv_cache_policy: 'streaming_llm' } },
      });
      const tooMany = await postJson(
        server,
        '/v1/completions',
        { model: 'tiny', prompt: 'Once', max_tokens: 65 },
        headers,
      );
      expect(tooMany.status).toBe(400);
      const path = await postJson(
        server,
        '/v1/completions',
        { model: sharedFile('models/stories260K/stories260K.bin'), prompt: 'Once' },
        headers,
      );
      expect(path.status).toBe(404);
      expect(path.json).toMatchObject({ error: { code: 'model_not_found' } });
    });
  });

  it('a config error names the field', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'meld-serve-'));
    const file = join(folder, 'bad.yml');
    writeFileSync(file, 'models:\n  - name: a\n    source: x.bin\n    colour: red\n');
    await expect(loadServeConfigFile(file)).rejects.toThrow(/models\.0/);
  });
});
