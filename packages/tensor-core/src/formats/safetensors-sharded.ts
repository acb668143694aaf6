// Sharded safetensors models as Hugging Face writes them: `model-00001-of-00003.safetensors` ...
// plus `model.safetensors.index.json` = {"metadata":{"total_size":N},"weight_map":{name:file}},
// serialised like Python's json.dumps(index, indent=2, sort_keys=True) + "\n". One shard is written
// as plain `model.safetensors` without an index, as transformers' save_pretrained does.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError, ValidationError } from '../errors';
import type { Tensor } from '../tensor';
import { writeFileAtomic } from './atomic-write';
import { pythonJsonDumps } from './python-json';
import type { SafetensorsDType } from './safetensors-dtypes';
import { SafetensorsFile, type SafetensorsTensorInfo } from './safetensors-reader';
import {
  entryByteLength,
  type SafetensorsEntry,
  type SafetensorsInput,
  type SafetensorsWriteOptions,
  safetensorsEntry,
  toSafetensorsEntries,
  writeSafetensors,
} from './safetensors-writer';

export const safetensorsIndexFileName = 'model.safetensors.index.json';

export interface ShardedTensorInfo extends SafetensorsTensorInfo {
  /** Shard file name (relative to the model folder). */
  readonly file: string;
}

/** `model-00001-of-00003.safetensors` (1-based index). */
export function shardFileName(index: number, count: number, prefix = 'model'): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}-${pad(index)}-of-${pad(count)}.safetensors`;
}

/**
 * A safetensors model: one file, or a folder of shards with model.safetensors.index.json.
 * At most one shard is open at a time (reading a tensor from another shard closes the current one), so a
 * merge over many sharded models holds one file handle per model.
 */
export class SafetensorsModel {
  readonly path: string;
  /** `__metadata__` of the first shard plus, for sharded models, the index's `metadata`. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly tensors: readonly ShardedTensorInfo[];
  readonly files: readonly string[];
  private readonly folder: string;
  private current: { file: string; shard: SafetensorsFile } | undefined;
  private readonly byName: Map<string, ShardedTensorInfo>;

  private constructor(
    path: string,
    folder: string,
    files: string[],
    weightMap?: Map<string, string>,
    indexMetadata?: Record<string, unknown>,
  ) {
    this.path = path;
    this.folder = folder;
    this.files = files;
    const tensors: ShardedTensorInfo[] = [];
    let metadata: Record<string, unknown> = {};
    for (const [i, file] of files.entries()) {
      const shard = this.shard(file);
      if (i === 0) metadata = { ...shard.metadata };
      for (const info of shard.tensors) {
        if (weightMap && weightMap.get(info.name) !== file) continue;
        tensors.push({ ...info, file });
      }
    }
    if (weightMap) {
      const found = new Set(tensors.map((t) => t.name));
      for (const [name, file] of weightMap) {
        if (!found.has(name))
          throw new FormatError(
            join(folder, safetensorsIndexFileName),
            `weight_map.${name}`,
            `tensor is not in ${file}`,
          );
      }
    }
    this.metadata = { ...metadata, ...indexMetadata };
    this.tensors = tensors;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /**
   * Opens a `.safetensors` file, a `model.safetensors.index.json`, or a folder holding either
   * (the index wins over `model.safetensors`). Only headers are read.
   */
  static open(path: string): SafetensorsModel {
    let indexPath: string | undefined;
    if (existsSync(path) && statSync(path).isDirectory()) {
      if (existsSync(join(path, safetensorsIndexFileName))) indexPath = join(path, safetensorsIndexFileName);
      else if (existsSync(join(path, 'model.safetensors')))
        return new SafetensorsModel(path, path, ['model.safetensors']);
      else
        throw new FormatError(
          path,
          'folder',
          `holds neither ${safetensorsIndexFileName} nor model.safetensors`,
        );
    } else if (path.endsWith('.index.json')) {
      indexPath = path;
    } else {
      return new SafetensorsModel(path, dirname(path), [basename(path)]);
    }
    const { weightMap, metadata } = readSafetensorsIndex(indexPath);
    const files = [...new Set(weightMap.values())];
    return new SafetensorsModel(path, dirname(indexPath), files, weightMap, metadata);
  }

  private shard(file: string): SafetensorsFile {
    if (this.current?.file !== file) {
      this.close();
      this.current = { file, shard: SafetensorsFile.open(join(this.folder, file)) };
    }
    return this.current.shard;
  }

  get names(): string[] {
    return this.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): ShardedTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new FormatError(this.path, `tensor '${name}'`, 'no such tensor in this model');
    return info;
  }

  /** See SafetensorsFile.readBytes (`into`: a reusable buffer). */
  readBytes(name: string, into?: Uint8Array): Uint8Array {
    return this.shard(this.info(name).file).readBytes(name, into);
  }

  /** See SafetensorsFile.readTensor (`into`: a reusable buffer). */
  readTensor(name: string, into?: Uint8Array): Tensor {
    return this.shard(this.info(name).file).readTensor(name, into);
  }

  /** See SafetensorsFile.tensorFileRange (the path is the tensor's shard). */
  tensorFileRange(name: string): {
    readonly path: string;
    readonly offset: number;
    readonly byteLength: number;
  } {
    return this.shard(this.info(name).file).tensorFileRange(name);
  }

  /** See SafetensorsFile.tensorFromBytes. */
  tensorFromBytes(name: string, bytes: Uint8Array): Tensor {
    return this.shard(this.info(name).file).tensorFromBytes(name, bytes);
  }

  close(): void {
    this.current?.shard.close();
    this.current = undefined;
  }
}

/** Opens a safetensors model (file, index or folder); see SafetensorsModel.open. */
export function openSafetensorsModel(path: string): SafetensorsModel {
  return SafetensorsModel.open(path);
}

/** Reads and validates model.safetensors.index.json. */
export function readSafetensorsIndex(path: string): {
  weightMap: Map<string, string>;
  metadata: Record<string, unknown>;
} {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FormatError(path, 'index', `cannot read JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new FormatError(path, 'index', 'is not a JSON object');
  const { weight_map: weightMap, metadata } = json as Record<string, unknown>;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(path, 'weight_map', 'is missing or not an object');
  }
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.')) {
      throw new FormatError(
        path,
        `weight_map.${name}`,
        `must be a shard file name in the same folder, got ${JSON.stringify(file)}`,
      );
    }
    map.set(name, file);
  }
  const meta =
    typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
      ? (metadata as Record<string, unknown>)
      : {};
  return { weightMap: map, metadata: meta };
}

export interface ShardedWriteOptions extends SafetensorsWriteOptions {
  /** Largest shard in tensor-data bytes (transformers' max_shard_size; default 5 GB). */
  readonly maxShardBytes?: number;
  /** File name prefix (default 'model'). */
  readonly prefix?: string;
  /** Extra fields for the index's "metadata" (total_size is always set). */
  readonly indexMetadata?: Readonly<Record<string, unknown>>;
}

export interface ShardedWriteResult {
  /** Shard file names, in order. */
  readonly files: readonly string[];
  /** Sum of tensor bytes (the index's total_size). */
  readonly totalSize: number;
  /** Absolute path of the index file; undefined when a single file was written. */
  readonly indexPath: string | undefined;
  readonly weightMap: Readonly<Record<string, string>>;
}

/**
 * Plans shards the way transformers/huggingface_hub do: tensors in the given order, a new shard
 * starts when the current one is non-empty and adding the next tensor would pass maxShardBytes.
 */
export function planShards(
  entries: readonly SafetensorsEntry[],
  maxShardBytes: number,
): SafetensorsEntry[][] {
  if (!(maxShardBytes > 0)) throw new ValidationError('maxShardBytes', 'must be positive');
  const shards: SafetensorsEntry[][] = [];
  let current: SafetensorsEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = entryByteLength(entry);
    if (current.length > 0 && size + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/** Writes a (possibly sharded) model into `folder`; each file atomically, the index last. */
export function writeSafetensorsSharded(
  folder: string,
  input: SafetensorsInput,
  options: ShardedWriteOptions = {},
): ShardedWriteResult {
  const prefix = options.prefix ?? 'model';
  const entries = toSafetensorsEntries(input);
  mkdirSync(folder, { recursive: true });
  const shards = planShards(entries, options.maxShardBytes ?? 5_000_000_000);
  const files =
    shards.length === 1
      ? [`${prefix}.safetensors`]
      : shards.map((_, i) => shardFileName(i + 1, shards.length, prefix));
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const [i, shard] of shards.entries()) {
    totalSize += writeSafetensors(join(folder, files[i]!), shard, { metadata: options.metadata });
    for (const entry of shard) weightMap[entry.name] = files[i]!;
  }
  let indexPath: string | undefined;
  if (shards.length > 1) {
    indexPath = join(
      folder,
      prefix === 'model' ? safetensorsIndexFileName : `${prefix}.safetensors.index.json`,
    );
    const index = { metadata: { ...options.indexMetadata, total_size: totalSize }, weight_map: weightMap };
    writeFileAtomic(indexPath, `${pythonJsonDumps(index)}\n`);
  }
  return { files, totalSize, indexPath, weightMap };
}

/**
 * Push-style sharded writer for producers that do not know their tensors in advance (a merge
 * emitting tensors as it computes them): buffers at most one shard, writes it under a temporary
 * name when the next tensor would overflow it, and renames every shard on `finish()` once the
 * shard count is known. `abort()` removes what was written.
 */
export class SafetensorsShardWriter {
  readonly folder: string;
  private readonly options: ShardedWriteOptions;
  private readonly maxShardBytes: number;
  private buffer: SafetensorsEntry[] = [];
  private bufferBytes = 0;
  private readonly written: { temporary: string; names: string[] }[] = [];
  private totalSize = 0;
  private readonly names = new Set<string>();

  constructor(folder: string, options: ShardedWriteOptions = {}) {
    this.folder = folder;
    this.options = options;
    this.maxShardBytes = options.maxShardBytes ?? 5_000_000_000;
    mkdirSync(folder, { recursive: true });
    if (!(this.maxShardBytes > 0)) throw new ValidationError('maxShardBytes', 'must be positive');
  }

  /** Adds a tensor (kept in memory until its shard is written). */
  add(name: string, tensor: Tensor): void {
    this.push(safetensorsEntry(name, tensor));
  }

  /** Adds raw bytes of any safetensors dtype (e.g. I64 tensors copied through). */
  addBytes(name: string, dtype: SafetensorsDType, shape: readonly number[], bytes: Uint8Array): void {
    this.push({ name, dtype, shape, data: bytes });
  }

  private push(entry: SafetensorsEntry): void {
    if (this.names.has(entry.name)) throw new ValidationError(entry.name, 'duplicate tensor name');
    this.names.add(entry.name);
    const bytes = entryByteLength(entry);
    if (this.buffer.length > 0 && this.bufferBytes + bytes > this.maxShardBytes) this.flush();
    this.buffer.push(entry);
    this.bufferBytes += bytes;
  }

  private flush(): void {
    const temporary = `.${this.options.prefix ?? 'model'}-shard-${this.written.length + 1}-${process.pid}.tmp.safetensors`;
    this.totalSize += writeSafetensors(join(this.folder, temporary), this.buffer, {
      metadata: this.options.metadata,
    });
    this.written.push({ temporary, names: this.buffer.map((e) => e.name) });
    this.buffer = [];
    this.bufferBytes = 0;
  }

  /** Writes the last shard, names every shard, writes the index (when sharded). */
  finish(): ShardedWriteResult {
    if (this.buffer.length > 0 || this.written.length === 0) this.flush();
    const prefix = this.options.prefix ?? 'model';
    const count = this.written.length;
    const files =
      count === 1
        ? [`${prefix}.safetensors`]
        : this.written.map((_, i) => shardFileName(i + 1, count, prefix));
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of this.written.entries()) {
      renameSync(join(this.folder, shard.temporary), join(this.folder, files[i]!));
      for (const name of shard.names) weightMap[name] = files[i]!;
    }
    let indexPath: string | undefined;
    if (count > 1) {
      indexPath = join(
        this.folder,
        prefix === 'model' ? safetensorsIndexFileName : `${prefix}.safetensors.index.json`,
      );
      const index = {
        metadata: { ...this.options.indexMetadata, total_size: this.totalSize },
        weight_map: weightMap,
      };
      writeFileAtomic(indexPath, `${pythonJsonDumps(index)}\n`);
    }
    this.written.length = 0;
    return { files, totalSize: this.totalSize, indexPath, weightMap };
  }

  abort(): void {
    for (const shard of this.written) rmSync(join(this.folder, shard.temporary), { force: true });
    this.written.length = 0;
    this.buffer = [];
  }
}
