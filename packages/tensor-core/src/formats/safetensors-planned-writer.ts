// Planned sharded safetensors writing. A merge knows every output tensor's name, dtype and shape before
// it computes any of them, so the whole layout (which tensor goes into which shard, each shard's header,
// each tensor's byte offset) is planned up front, and each tensor's bytes are written at their final
// offset the moment they exist (positional writes). The caller can then reuse one output buffer for all
// tensors instead of holding a whole shard (up to 5 GB) in fresh memory as SafetensorsShardWriter does.
// The files are byte-identical to SafetensorsShardWriter's for the same tensors added in the same order:
// shard assignment comes from `planShards`, headers from `encodeSafetensorsHeader` in
// `sortSafetensorsEntries` order, names and index exactly as `SafetensorsShardWriter.finish` writes them.
import { closeSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors';
import { temporaryPathFor, writeFileAtomic } from './atomic-write';
import { pythonJsonDumps } from './python-json';
import type { SafetensorsDType } from './safetensors-dtypes';
import {
  planShards,
  type ShardedWriteOptions,
  type ShardedWriteResult,
  safetensorsIndexFileName,
  shardFileName,
} from './safetensors-sharded';
import {
  encodeSafetensorsHeader,
  entryByteLength,
  type SafetensorsEntry,
  sortSafetensorsEntries,
} from './safetensors-writer';

/** A tensor to plan: everything but its data. */
export interface SafetensorsTensorSpec {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

/** Where one tensor's bytes go. */
export interface PlannedSafetensorsTensor extends SafetensorsTensorSpec {
  /** Shard file name (relative to the output folder). */
  readonly file: string;
  /** Index of the shard in `SafetensorsShardPlan.shards`. */
  readonly shard: number;
  /** Position of the tensor's first byte in the shard file (header included). */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface PlannedSafetensorsShard {
  readonly file: string;
  /** The 8-byte length prefix plus the space-padded JSON header. */
  readonly header: Uint8Array;
  /** Tensors in file order (dtype descending, then name). */
  readonly tensors: readonly PlannedSafetensorsTensor[];
  /** Tensor data bytes in this shard. */
  readonly dataBytes: number;
  /** Final file length: header plus data. */
  readonly fileBytes: number;
}

export interface SafetensorsShardPlan {
  readonly shards: readonly PlannedSafetensorsShard[];
  /** Sum of tensor bytes (the index's total_size). */
  readonly totalSize: number;
  /** Index file name; undefined for a single shard (written as `PREFIX.safetensors` without an index). */
  readonly indexFile: string | undefined;
  /** Extra index "metadata" fields (total_size is always set). */
  readonly indexMetadata: Readonly<Record<string, unknown>>;
  /** Tensor name → shard file, in shard order then the given order (as SafetensorsShardWriter returns it). */
  readonly weightMap: Readonly<Record<string, string>>;
}

function validateSpec(spec: SafetensorsTensorSpec, index: number): void {
  const at = `tensors[${index}]`;
  if (typeof spec !== 'object' || spec === null) throw new ValidationError(at, 'must be an object');
  if (typeof spec.name !== 'string' || spec.name.length === 0)
    throw new ValidationError(`${at}.name`, 'must be a non-empty string');
  if (!Array.isArray(spec.shape)) throw new ValidationError(`${spec.name}.shape`, 'must be an array');
}

/**
 * Plans the shards SafetensorsShardWriter would write for `tensors` added in this order with `options`:
 * a new shard starts when the current one is non-empty and the next tensor would pass maxShardBytes.
 */
export function planSafetensorsShards(
  tensors: readonly SafetensorsTensorSpec[],
  options: ShardedWriteOptions = {},
): SafetensorsShardPlan {
  const prefix = options.prefix ?? 'model';
  const empty = new Uint8Array(0);
  const names = new Set<string>();
  const entries: SafetensorsEntry[] = tensors.map((spec, index) => {
    validateSpec(spec, index);
    if (names.has(spec.name)) throw new ValidationError(spec.name, 'duplicate tensor name');
    names.add(spec.name);
    const entry = { name: spec.name, dtype: spec.dtype, shape: [...spec.shape], data: empty };
    entryByteLength(entry); // validates dtype and shape (non-negative integers, whole bytes)
    return entry;
  });
  const groups = planShards(entries, options.maxShardBytes ?? 5_000_000_000);
  const files =
    groups.length === 1
      ? [`${prefix}.safetensors`]
      : groups.map((_, i) => shardFileName(i + 1, groups.length, prefix));
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  const shards = groups.map((group, shard): PlannedSafetensorsShard => {
    const file = files[shard]!;
    const ordered = sortSafetensorsEntries(group);
    const header = encodeSafetensorsHeader(ordered, options.metadata);
    let offset = header.byteLength;
    const planned = ordered.map((entry): PlannedSafetensorsTensor => {
      const byteLength = entryByteLength(entry);
      const tensor = {
        name: entry.name,
        dtype: entry.dtype,
        shape: entry.shape,
        file,
        shard,
        fileOffset: offset,
        byteLength,
      };
      offset += byteLength;
      return tensor;
    });
    if (!Number.isSafeInteger(offset)) throw new ValidationError(file, `is too large (${offset} bytes)`);
    for (const entry of group) weightMap[entry.name] = file;
    const dataBytes = offset - header.byteLength;
    totalSize += dataBytes;
    return { file, header, tensors: planned, dataBytes, fileBytes: offset };
  });
  const indexFile =
    shards.length > 1
      ? prefix === 'model'
        ? safetensorsIndexFileName
        : `${prefix}.safetensors.index.json`
      : undefined;
  return { shards, totalSize, indexFile, indexMetadata: { ...options.indexMetadata }, weightMap };
}

interface TensorProgress {
  readonly tensor: PlannedSafetensorsTensor;
  /** Disjoint, sorted, non-adjacent [start, end) byte ranges written so far. */
  readonly ranges: [number, number][];
  written: number;
  /** Set by the first write call (so a zero-size tensor also has to be written). */
  touched: boolean;
}

function isComplete(progress: TensorProgress): boolean {
  return progress.touched && progress.written === progress.tensor.byteLength;
}

/** Index of the first range starting at or after `start`. */
function rangeIndex(ranges: readonly [number, number][], start: number): number {
  let low = 0;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (ranges[middle]![0] < start) low = middle + 1;
    else high = middle;
  }
  return low;
}

function overlaps(ranges: readonly [number, number][], start: number, end: number): boolean {
  const at = rangeIndex(ranges, start);
  const previous = ranges[at - 1];
  const next = ranges[at];
  return (previous !== undefined && previous[1] > start) || (next !== undefined && next[0] < end);
}

/** Inserts a non-empty [start, end) that overlaps no range, merging it with adjacent ones. */
function insertRange(ranges: [number, number][], start: number, end: number): void {
  const at = rangeIndex(ranges, start);
  const previous = ranges[at - 1];
  const next = ranges[at];
  if (previous !== undefined && previous[1] === start) {
    previous[1] = end;
    if (next !== undefined && next[0] === end) {
      previous[1] = next[1];
      ranges.splice(at, 1);
    }
  } else if (next !== undefined && next[0] === end) {
    next[0] = start;
  } else {
    ranges.splice(at, 0, [start, end]);
  }
}

/**
 * Writes a planned (possibly sharded) safetensors model into `folder`. Construction creates every shard
 * as a hidden temporary file holding its header, sized to its final length; `write`/`writeAt` put tensor
 * bytes at their planned offsets (in any order, a tensor whole or in pieces); `finish()` checks that every
 * byte was written, renames the shards to their final names and writes the index; `abort()` removes the
 * temporary files. The caller owns the byte buffers it passes and may reuse them as soon as a call returns.
 */
export class SafetensorsPlannedWriter {
  readonly folder: string;
  readonly plan: SafetensorsShardPlan;
  private readonly temporaryPaths: string[] = [];
  private readonly descriptors: (number | undefined)[] = [];
  private readonly progress = new Map<string, TensorProgress>();
  private state: 'open' | 'finished' | 'aborted' = 'open';

  /** Plans `tensors` with `options` (see planSafetensorsShards) and creates the shard files. */
  constructor(folder: string, tensors: readonly SafetensorsTensorSpec[], options?: ShardedWriteOptions);
  /** Creates the shard files of a plan made by planSafetensorsShards. */
  constructor(folder: string, plan: SafetensorsShardPlan);
  constructor(
    folder: string,
    tensorsOrPlan: readonly SafetensorsTensorSpec[] | SafetensorsShardPlan,
    options: ShardedWriteOptions = {},
  ) {
    this.folder = folder;
    this.plan = 'shards' in tensorsOrPlan ? tensorsOrPlan : planSafetensorsShards(tensorsOrPlan, options);
    for (const shard of this.plan.shards)
      for (const tensor of shard.tensors)
        this.progress.set(tensor.name, { tensor, ranges: [], written: 0, touched: false });
    mkdirSync(folder, { recursive: true });
    try {
      for (const shard of this.plan.shards) {
        const temporary = temporaryPathFor(join(folder, shard.file));
        const fd = openSync(temporary, 'wx');
        this.temporaryPaths.push(temporary);
        this.descriptors.push(fd);
        writeFully(fd, shard.header, 0);
        ftruncateSync(fd, shard.fileBytes);
      }
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  /** Where `name` goes (shard file, offset, byte length); ValidationError for a tensor not in the plan. */
  info(name: string): PlannedSafetensorsTensor {
    return this.entry(name).tensor;
  }

  /** Names of tensors not yet completely written, in plan order. */
  missing(): string[] {
    return [...this.progress.values()].filter((p) => !isComplete(p)).map((p) => p.tensor.name);
  }

  /** Writes all of a tensor's bytes (exactly its planned byte length) at its planned offset. */
  write(name: string, bytes: Uint8Array): void {
    const progress = this.entry(name);
    if (progress.touched) throw new ValidationError(name, 'tensor was already written');
    if (bytes.byteLength !== progress.tensor.byteLength) {
      const { dtype, shape, byteLength } = progress.tensor;
      throw new ValidationError(
        name,
        `${dtype} [${shape}] needs ${byteLength} bytes, got ${bytes.byteLength}`,
      );
    }
    this.writeAt(name, 0, bytes);
  }

  /**
   * Writes part of a tensor: `bytes` go to bytes [byteOffset, byteOffset + bytes.byteLength) of the tensor.
   * Pieces may come in any order but may not overlap or pass the tensor's end.
   */
  writeAt(name: string, byteOffset: number, bytes: Uint8Array): void {
    const progress = this.entry(name);
    const { byteLength, fileOffset, shard } = progress.tensor;
    const end = byteOffset + bytes.byteLength;
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || end > byteLength)
      throw new ValidationError(
        name,
        `bytes [${byteOffset}, ${end}) are outside the tensor's ${byteLength} bytes`,
      );
    if (isComplete(progress)) throw new ValidationError(name, 'tensor was already written');
    if (bytes.byteLength === 0) {
      if (byteLength === 0) progress.touched = true;
      return;
    }
    if (overlaps(progress.ranges, byteOffset, end))
      throw new ValidationError(name, `bytes [${byteOffset}, ${end}) overlap bytes already written`);
    writeFully(this.descriptors[shard]!, bytes, fileOffset + byteOffset);
    insertRange(progress.ranges, byteOffset, end);
    progress.written += bytes.byteLength;
    progress.touched = true;
  }

  /** Checks every tensor is complete, closes and renames the shards, writes the index (when sharded). */
  finish(): ShardedWriteResult {
    this.assertOpen();
    const missing = this.missing();
    if (missing.length > 0)
      throw new ValidationError('tensors', `not completely written: ${missing.join(', ')}`);
    const renamed: string[] = [];
    try {
      this.closeAll();
      for (const [i, shard] of this.plan.shards.entries()) {
        const path = join(this.folder, shard.file);
        renameSync(this.temporaryPaths[i]!, path);
        this.temporaryPaths[i] = '';
        renamed.push(path);
      }
      let indexPath: string | undefined;
      if (this.plan.indexFile !== undefined) {
        indexPath = join(this.folder, this.plan.indexFile);
        const index = {
          metadata: { ...this.plan.indexMetadata, total_size: this.plan.totalSize },
          weight_map: this.plan.weightMap,
        };
        writeFileAtomic(indexPath, `${pythonJsonDumps(index)}\n`);
      }
      this.state = 'finished';
      return {
        files: this.plan.shards.map((s) => s.file),
        totalSize: this.plan.totalSize,
        indexPath,
        weightMap: { ...this.plan.weightMap },
      };
    } catch (error) {
      // A failed finish leaves no shards without their index.
      for (const path of renamed) rmSync(path, { force: true });
      this.abort();
      throw error;
    }
  }

  /** Closes and removes the temporary shard files; safe to call more than once and after a failed finish. */
  abort(): void {
    if (this.state === 'finished') return;
    this.state = 'aborted';
    try {
      this.closeAll();
    } finally {
      for (const path of this.temporaryPaths) if (path) rmSync(path, { force: true });
      this.temporaryPaths.length = 0;
    }
  }

  private closeAll(): void {
    let failure: unknown;
    for (const [i, fd] of this.descriptors.entries()) {
      if (fd === undefined) continue;
      this.descriptors[i] = undefined;
      try {
        closeSync(fd);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new ValidationError('writer', `is ${this.state}`);
  }

  private entry(name: string): TensorProgress {
    this.assertOpen();
    const progress = this.progress.get(name);
    if (!progress) throw new ValidationError(name, 'tensor is not in the plan');
    return progress;
  }
}

/** Positional write of all of `bytes` at `position` (writeSync may write less than asked). */
function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength)
    done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}
