// hf:owner/repo[@revision] sources: the files a model needs, downloaded into a cache folder with a
// progress callback, resumed from a partial file, and checked against the hub's sha256 for LFS files.
// Offline (HF_HUB_OFFLINE=1, or no network) a complete cached copy is used, else the error names
// exactly what to fetch.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { MeldError, ValidationError } from '@meld/tensor-core';

export class HubOfflineError extends MeldError {
  readonly repo: string;
  readonly files: readonly string[];
  constructor(repo: string, revision: string, files: readonly string[], reason: string) {
    super(
      'hub-offline',
      `${reason}: cannot fetch hf:${repo}@${revision}. Download it while online (meld generate --model hf:${repo}), ` +
        `or fetch ${files.length ? files.join(', ') : 'config.json, *.safetensors, tokenizer.json, tokenizer_config.json'} from ` +
        `https://huggingface.co/${repo}/tree/${revision} into a folder and pass that folder.`,
    );
    this.name = 'HubOfflineError';
    this.repo = repo;
    this.files = files;
  }
}

export type HubProgressEvent =
  | { type: 'file-start'; file: string; bytes: number; resumedFrom: number }
  | { type: 'file-progress'; file: string; received: number; bytes: number }
  | { type: 'file-end'; file: string }
  | { type: 'file-cached'; file: string };

export interface HubOptions {
  /** Cache root (default: $MELD_CACHE or ~/.cache/meld), files go to <root>/hub/<owner>--<repo>/<revision>/. */
  readonly cacheDir?: string;
  readonly onProgress?: (event: HubProgressEvent) => void;
  /** Bearer token for gated repos (default: $HF_TOKEN). */
  readonly token?: string;
  readonly endpoint?: string;
  readonly fetch?: typeof fetch;
}

export function parseHubSource(source: string): { repo: string; revision: string } {
  const match = /^hf:([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(source);
  if (!match) throw new ValidationError('source', `'${source}' is not hf:owner/repo[@revision]`);
  return { repo: match[1]!, revision: match[2] ?? 'main' };
}

const wanted = (name: string) =>
  /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|model\.safetensors\.index\.json)$/.test(
    name,
  ) ||
  (/\.safetensors$/.test(name) && !name.includes('/'));

interface Sibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256: string; size: number };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads (or finds cached) the model files and returns the folder. */
export async function resolveHubModel(source: string, options: HubOptions = {}): Promise<string> {
  const { repo, revision } = parseHubSource(source);
  const root = options.cacheDir ?? process.env.MELD_CACHE ?? join(homedir(), '.cache', 'meld');
  const folder = join(root, 'hub', repo.replace('/', '--'), revision);
  const manifestPath = join(folder, '.meld-complete.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: string[] };
    if (manifest.files.every((file) => existsSync(join(folder, file)))) {
      for (const file of manifest.files) options.onProgress?.({ type: 'file-cached', file });
      return folder;
    }
  }
  if (process.env.HF_HUB_OFFLINE === '1' || process.env.HF_HUB_OFFLINE === 'true') {
    throw new HubOfflineError(repo, revision, [], 'HF_HUB_OFFLINE is set and the model is not in the cache');
  }
  const endpoint = options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co';
  const token = options.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const fetcher = options.fetch ?? fetch;
  let siblings: Sibling[];
  try {
    const response = await fetcher(
      `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`,
      { headers },
    );
    if (!response.ok)
      throw new MeldError(
        'hub',
        `hf:${repo}@${revision}: the hub answered ${response.status} ${response.statusText}`,
      );
    siblings = ((await response.json()) as { siblings?: Sibling[] }).siblings ?? [];
  } catch (error) {
    if (MeldError.isInstance(error)) throw error;
    throw new HubOfflineError(repo, revision, [], `no network (${(error as Error).message})`);
  }
  const files = siblings.filter((s) => wanted(s.rfilename));
  if (!files.some((f) => f.rfilename.endsWith('.safetensors'))) {
    throw new MeldError(
      'hub',
      `hf:${repo}@${revision} has no .safetensors weights (files: ${siblings.map((s) => s.rfilename).join(', ')})`,
    );
  }
  mkdirSync(folder, { recursive: true });
  for (const file of files) {
    const target = join(folder, file.rfilename);
    const size = file.lfs?.size ?? file.size ?? 0;
    if (existsSync(target) && (size === 0 || statSync(target).size === size)) {
      options.onProgress?.({ type: 'file-cached', file: file.rfilename });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const partial = `${target}.part`;
    const resumedFrom = existsSync(partial) ? statSync(partial).size : 0;
    let response: Response;
    try {
      response = await fetcher(
        `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.rfilename}`,
        {
          headers: { ...headers, ...(resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {}) },
        },
      );
    } catch (error) {
      throw new HubOfflineError(
        repo,
        revision,
        files.map((f) => f.rfilename),
        `download of ${file.rfilename} failed (${(error as Error).message})`,
      );
    }
    if (!response.ok || !response.body)
      throw new MeldError('hub', `${file.rfilename}: the hub answered ${response.status}`);
    const append = resumedFrom > 0 && response.status === 206;
    options.onProgress?.({
      type: 'file-start',
      file: file.rfilename,
      bytes: size,
      resumedFrom: append ? resumedFrom : 0,
    });
    const stream = createWriteStream(partial, { flags: append ? 'a' : 'w' });
    let received = append ? resumedFrom : 0;
    const finish = () =>
      new Promise<void>((resolve, reject) =>
        stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength;
        if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
        options.onProgress?.({ type: 'file-progress', file: file.rfilename, received, bytes: size });
      }
    } catch (error) {
      await finish(); // keep what arrived: the next run resumes from it
      throw new MeldError(
        'hub',
        `${file.rfilename}: download interrupted after ${received} bytes (run again to resume): ${(error as Error).message}`,
      );
    }
    await finish();
    if (file.lfs?.sha256) {
      const digest = await sha256(partial);
      if (digest !== file.lfs.sha256) {
        renameSync(partial, `${partial}.corrupt`);
        throw new MeldError(
          'hub',
          `${file.rfilename}: sha256 ${digest} does not match the hub's ${file.lfs.sha256}`,
        );
      }
    }
    renameSync(partial, target);
    options.onProgress?.({ type: 'file-end', file: file.rfilename });
  }
  writeFileSync(manifestPath, JSON.stringify({ repo, revision, files: files.map((f) => f.rfilename) }));
  return folder;
}
