import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubOfflineError, type HubProgressEvent, parseHubSource, resolveHubModel } from './hub-download';

// A local HTTP server speaking the two hub endpoints the downloader uses (model info with blobs,
// resolve with Range) — on 127.0.0.1, so the tests never touch the network.
const weights = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
const files: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"llama"}'),
  'model.safetensors': weights,
  'tokenizer.json': Buffer.from('{}'),
  'README.md': Buffer.from('not downloaded'),
};
let server: Server;
let endpoint: string;
let cutNext = false;
let requests: { path: string; range?: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const url = request.url ?? '';
    requests.push({ path: url, ...(request.headers.range ? { range: request.headers.range } : {}) });
    if (url.startsWith('/api/models/owner/tiny/revision/main')) {
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          siblings: Object.entries(files).map(([name, data]) => ({
            rfilename: name,
            size: data.length,
            ...(name.endsWith('.safetensors')
              ? { lfs: { sha256: createHash('sha256').update(data).digest('hex'), size: data.length } }
              : {}),
          })),
        }),
      );
      return;
    }
    const match = /^\/owner\/tiny\/resolve\/main\/(.+)$/.exec(url);
    const data = match ? files[match[1]!] : undefined;
    if (!data) {
      response.statusCode = 404;
      response.end();
      return;
    }
    const range = /bytes=(\d+)-/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    response.statusCode = range ? 206 : 200;
    if (cutNext && match?.[1] === 'model.safetensors') {
      cutNext = false;
      response.flushHeaders();
      response.write(data.subarray(start, start + 1000), () => setTimeout(() => response.destroy(), 50));
      return;
    }
    response.end(data.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('hf: sources', () => {
  const folders: string[] = [];
  const cacheDir = () => {
    const folder = mkdtempSync(join(tmpdir(), 'meld-hub-'));
    folders.push(folder);
    return folder;
  };
  afterEach(() => {
    requests = [];
    delete process.env.HF_HUB_OFFLINE;
  });
  afterAll(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  it('parses owner/repo[@revision]', () => {
    expect(parseHubSource('hf:owner/tiny')).toEqual({ repo: 'owner/tiny', revision: 'main' });
    expect(parseHubSource('hf:Qwen/Qwen2.5-0.5B@v1.0')).toEqual({
      repo: 'Qwen/Qwen2.5-0.5B',
      revision: 'v1.0',
    });
    expect(() => parseHubSource('hf:nope')).toThrow(/owner\/repo/);
  });

  it('downloads the model files with progress, then serves them from the cache', async () => {
    const root = cacheDir();
    const events: HubProgressEvent[] = [];
    const folder = await resolveHubModel('hf:owner/tiny', {
      cacheDir: root,
      endpoint,
      onProgress: (e) => events.push(e),
    });
    expect(readFileSync(join(folder, 'model.safetensors'))).toEqual(weights);
    expect(readFileSync(join(folder, 'config.json'), 'utf8')).toContain('llama');
    expect(events.some((e) => e.type === 'file-end' && e.file === 'model.safetensors')).toBe(true);
    expect(requests.some((r) => r.path.includes('README.md'))).toBe(false);
    requests = [];
    process.env.HF_HUB_OFFLINE = '1';
    expect(await resolveHubModel('hf:owner/tiny', { cacheDir: root, endpoint })).toBe(folder);
    expect(requests).toHaveLength(0);
  });

  it('resumes a cut download with a Range request and checks the sha256', async () => {
    const root = cacheDir();
    cutNext = true;
    await expect(resolveHubModel('hf:owner/tiny', { cacheDir: root, endpoint })).rejects.toThrow(
      /interrupted/,
    );
    const folder = await resolveHubModel('hf:owner/tiny', { cacheDir: root, endpoint });
    expect(
      requests.some((r) => r.path.endsWith('model.safetensors') && /^bytes=[1-9]\d*-$/.test(r.range ?? '')),
    ).toBe(true);
    expect(readFileSync(join(folder, 'model.safetensors'))).toEqual(weights);
  });

  it('rejects a file whose sha256 does not match', async () => {
    const root = cacheDir();
    const folder = join(root, 'hub', 'owner--tiny', 'main');
    // A corrupt partial file: resumed bytes complete it with the wrong content.
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.safetensors.part'), Buffer.alloc(1000, 7));
    await expect(resolveHubModel('hf:owner/tiny', { cacheDir: root, endpoint })).rejects.toThrow(/sha256/);
  });

  it('offline without a cached copy names what to fetch', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const error = await resolveHubModel('hf:owner/missing', { cacheDir: cacheDir(), endpoint }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HubOfflineError);
    expect(String(error)).toMatch(/hf:owner\/missing@main/);
    expect(String(error)).toMatch(/config\.json/);
  });

  it('no network gives the offline error too', async () => {
    const error = await resolveHubModel('hf:owner/tiny', {
      cacheDir: cacheDir(),
      endpoint: 'http://127.0.0.1:1',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubOfflineError);
    expect(String(error)).toMatch(/no network/);
  });
});
