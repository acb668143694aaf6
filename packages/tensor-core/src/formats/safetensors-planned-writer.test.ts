// The planned writer's files must be byte-identical to SafetensorsShardWriter's (the reference: the
// push writer that buffers whole shards) for the same tensors added in the same order, whatever order
// and pieces the planned writer receives the bytes in; and they must read back with our reader.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../errors';
import { Mulberry32 } from '../random';
import type { SafetensorsDType } from './safetensors-dtypes';
import {
  planSafetensorsShards,
  SafetensorsPlannedWriter,
  type SafetensorsTensorSpec,
} from './safetensors-planned-writer';
import { openSafetensors } from './safetensors-reader';
import {
  openSafetensorsModel,
  SafetensorsShardWriter,
  type ShardedWriteOptions,
  type ShardedWriteResult,
} from './safetensors-sharded';

const root = mkdtempSync(join(tmpdir(), 'meld-planned-writer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface SourceTensor extends SafetensorsTensorSpec {
  readonly bytes: Uint8Array;
}

const bitsOf: Partial<Record<SafetensorsDType, number>> = {
  F32: 32,
  BF16: 16,
  F16: 16,
  I64: 64,
  I8: 8,
  U8: 8,
  F64: 64,
  F4: 4,
};

function source(name: string, dtype: SafetensorsDType, shape: number[], seed: number): SourceTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const random = new Mulberry32(seed);
  const bytes = Uint8Array.from({ length: (count * bitsOf[dtype]!) / 8 }, () =>
    Math.floor(random.next() * 256),
  );
  return { name, dtype, shape, bytes };
}

/** The reference: SafetensorsShardWriter fed in the given order. */
function writeReference(folder: string, tensors: readonly SourceTensor[], options: ShardedWriteOptions) {
  const writer = new SafetensorsShardWriter(folder, options);
  for (const t of tensors) writer.addBytes(t.name, t.dtype, t.shape, t.bytes);
  return writer.finish();
}

/** Splits a tensor's bytes into whole rows (outermost dimension), `rowsPerPiece` at a time. */
function rowPieces(tensor: SourceTensor, rowsPerPiece: number): [number, Uint8Array][] {
  const rows = tensor.shape[0] ?? 1;
  if (rows === 0 || tensor.bytes.byteLength === 0) return [[0, tensor.bytes]];
  const rowBytes = tensor.bytes.byteLength / rows;
  const pieces: [number, Uint8Array][] = [];
  for (let row = 0; row < rows; row += rowsPerPiece) {
    const start = row * rowBytes;
    pieces.push([
      start,
      tensor.bytes.subarray(start, Math.min(tensor.bytes.byteLength, start + rowsPerPiece * rowBytes)),
    ]);
  }
  return pieces;
}

/** The results agree except for the folder in indexPath. */
function expectSameResult(actual: ShardedWriteResult, expected: ShardedWriteResult): void {
  expect({ ...actual, indexPath: actual.indexPath && basename(actual.indexPath) }).toEqual({
    ...expected,
    indexPath: expected.indexPath && basename(expected.indexPath),
  });
  expect(Object.keys(actual.weightMap)).toEqual(Object.keys(expected.weightMap));
}

function expectSameFolders(actual: string, expected: string): void {
  const names = readdirSync(expected).sort();
  expect(readdirSync(actual).sort()).toEqual(names);
  for (const name of names)
    expect(readFileSync(join(actual, name)).equals(readFileSync(join(expected, name))), name).toBe(true);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = new Mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// Insertion order differs from both name order and safetensors' dtype-then-name file order.
const mixed: SourceTensor[] = [
  source('model.layers.1.mlp.up_proj.weight', 'BF16', [6, 8], 1),
  source('lm_head.weight', 'F32', [5, 4], 2),
  source('model.layers.0.self_attn.q_proj.weight', 'F16', [4, 4], 3),
  source('position_ids', 'I64', [1, 7], 4),
  source('model.embed_tokens.weight', 'F32', [40, 4], 5), // 640 bytes: larger than maxShardBytes
  source('a.scalar', 'F32', [], 6),
  source('z.empty', 'BF16', [0, 16], 7),
  source('model.norm.weight', 'F32', [16], 8),
  source('b.bytes', 'U8', [3, 5], 9),
  source('model.layers.0.mlp.down_proj.weight', 'I8', [8, 3], 10),
  source('c.nibbles', 'F4', [2, 6], 11),
];

describe('SafetensorsPlannedWriter', () => {
  it('writes shards byte-identical to SafetensorsShardWriter, tensors given in shuffled order', () => {
    const options = { maxShardBytes: 200, metadata: { format: 'pt' }, indexMetadata: { merged_by: 'meld' } };
    const expected = mkdtempSync(join(root, 'reference-'));
    const reference = writeReference(expected, mixed, options);
    expect(reference.files.length).toBeGreaterThan(3);

    const actual = mkdtempSync(join(root, 'planned-'));
    const writer = new SafetensorsPlannedWriter(actual, mixed, options);
    for (const t of shuffled(mixed, 42)) writer.write(t.name, t.bytes);
    const result = writer.finish();
    expectSameResult(result, reference);
    expectSameFolders(actual, expected);
  });

  it('writes tensors in row pieces via writeAt, pieces of different tensors interleaved and reversed', () => {
    const options = { maxShardBytes: 300 };
    const expected = mkdtempSync(join(root, 'reference-'));
    const reference = writeReference(expected, mixed, options);
    const actual = mkdtempSync(join(root, 'pieces-'));
    const writer = new SafetensorsPlannedWriter(actual, planSafetensorsShards(mixed, options));
    const queues = shuffled(mixed, 7).map((t) => ({ name: t.name, pieces: rowPieces(t, 2).reverse() }));
    while (queues.some((q) => q.pieces.length > 0))
      for (const queue of queues) {
        const piece = queue.pieces.shift();
        if (piece) writer.writeAt(queue.name, piece[0], piece[1]);
      }
    expectSameResult(writer.finish(), reference);
    expectSameFolders(actual, expected);
  });

  it('writes one shard as PREFIX.safetensors without an index, and the files read back', () => {
    const options = { prefix: 'adapter', metadata: { format: 'pt' } };
    const expected = mkdtempSync(join(root, 'reference-'));
    writeReference(expected, mixed, options);
    const actual = mkdtempSync(join(root, 'single-'));
    const writer = new SafetensorsPlannedWriter(actual, mixed, options);
    for (const t of mixed) writer.write(t.name, t.bytes);
    const result = writer.finish();
    expect(result.files).toEqual(['adapter.safetensors']);
    expect(result.indexPath).toBeUndefined();
    expectSameFolders(actual, expected);
    const file = openSafetensors(join(actual, 'adapter.safetensors'));
    expect(file.metadata).toEqual({ format: 'pt' });
    for (const t of mixed) {
      expect(file.info(t.name).shape).toEqual(t.shape);
      expect(file.readBytes(t.name)).toEqual(t.bytes);
    }
    file.close();
  });

  it('names prefixed shards and their index as the push writer does; the sharded model reads back', () => {
    const options = { prefix: 'consolidated', maxShardBytes: 150 };
    const expected = mkdtempSync(join(root, 'reference-'));
    writeReference(expected, mixed, options);
    const actual = mkdtempSync(join(root, 'prefixed-'));
    const writer = new SafetensorsPlannedWriter(actual, mixed, options);
    for (const t of shuffled(mixed, 3)) writer.write(t.name, t.bytes);
    const result = writer.finish();
    expect(result.indexPath).toBe(join(actual, 'consolidated.safetensors.index.json'));
    expect(result.files[0]).toMatch(/^consolidated-00001-of-0000\d\.safetensors$/);
    expectSameFolders(actual, expected);
    const model = openSafetensorsModel(result.indexPath!);
    expect(model.metadata.total_size).toBe(mixed.reduce((sum, t) => sum + t.bytes.byteLength, 0));
    for (const t of mixed) {
      expect(model.info(t.name).file).toBe(result.weightMap[t.name]);
      expect(model.readBytes(t.name)).toEqual(t.bytes);
    }
    model.close();
  });

  it('plans the offsets that the reader finds', () => {
    const plan = planSafetensorsShards(mixed, { maxShardBytes: 200 });
    const folder = mkdtempSync(join(root, 'offsets-'));
    writeReference(folder, mixed, { maxShardBytes: 200 });
    for (const shard of plan.shards) {
      const file = openSafetensors(join(folder, shard.file));
      expect(file.dataStart).toBe(shard.header.byteLength);
      expect(file.tensors.map((t) => t.name)).toEqual(shard.tensors.map((t) => t.name));
      for (const t of shard.tensors) {
        expect(file.dataStart + file.info(t.name).dataOffsets[0]).toBe(t.fileOffset);
        expect(file.info(t.name).byteLength).toBe(t.byteLength);
      }
      file.close();
    }
  });

  it('matches the push writer for random tensor sets, shard sizes, write orders and pieces', () => {
    const dtypes: SafetensorsDType[] = ['F32', 'BF16', 'F16', 'I64', 'I8', 'F64'];
    const tensorSet = fc.uniqueArray(
      fc.record({
        name: fc.stringMatching(/^[a-z][a-z0-9._]{0,6}$/),
        dtype: fc.constantFrom(...dtypes),
        shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
      }),
      { selector: (t) => t.name, maxLength: 12 },
    );
    fc.assert(
      fc.property(
        tensorSet,
        fc.integer({ min: 1, max: 400 }),
        fc.integer(),
        fc.integer({ min: 1, max: 3 }),
        (specs, maxShardBytes, seed, rowsPerPiece) => {
          const tensors = specs.map((s, i) => source(s.name, s.dtype, s.shape, seed + i));
          const expected = mkdtempSync(join(root, 'property-reference-'));
          const actual = mkdtempSync(join(root, 'property-planned-'));
          const reference = writeReference(expected, tensors, { maxShardBytes });
          const writer = new SafetensorsPlannedWriter(actual, tensors, { maxShardBytes });
          for (const t of shuffled(tensors, seed))
            for (const [offset, bytes] of shuffled(rowPieces(t, rowsPerPiece), seed + 1))
              writer.writeAt(t.name, offset, bytes);
          expectSameResult(writer.finish(), reference);
          expectSameFolders(actual, expected);
          rmSync(expected, { recursive: true });
          rmSync(actual, { recursive: true });
        },
      ),
      { numRuns: 60, seed: 20240601 },
    );
  });

  it('writes an empty model as the push writer does (one empty model.safetensors)', () => {
    const expected = mkdtempSync(join(root, 'reference-'));
    const reference = writeReference(expected, [], {});
    const actual = mkdtempSync(join(root, 'empty-'));
    expectSameResult(new SafetensorsPlannedWriter(actual, []).finish(), reference);
    expectSameFolders(actual, expected);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('keeps one descriptor per shard open and closes them all', () => {
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    const writer = new SafetensorsPlannedWriter(mkdtempSync(join(root, 'fds-')), mixed, {
      maxShardBytes: 200,
    });
    expect(openFiles() - before).toBe(writer.plan.shards.length);
    for (const t of mixed) writer.write(t.name, t.bytes);
    writer.finish();
    expect(openFiles()).toBe(before);
  });
});

describe('SafetensorsPlannedWriter errors', () => {
  const small = mixed.slice(0, 4);

  function catchError(action: () => unknown): ValidationError {
    try {
      action();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return error as ValidationError;
    }
    throw new Error('expected a ValidationError');
  }

  it('rejects a wrong byte length, an unknown name, a second write and bad pieces, naming the tensor', () => {
    const writer = new SafetensorsPlannedWriter(mkdtempSync(join(root, 'errors-')), small, {
      maxShardBytes: 100,
    });
    const [first, second] = small as [SourceTensor, SourceTensor];
    expect(catchError(() => writer.write(first.name, first.bytes.subarray(1))).path).toBe(first.name);
    expect(catchError(() => writer.write('no.such.tensor', first.bytes)).path).toBe('no.such.tensor');
    writer.write(first.name, first.bytes);
    expect(catchError(() => writer.write(first.name, first.bytes)).message).toMatch(/already written/);
    expect(catchError(() => writer.writeAt(first.name, 0, first.bytes.subarray(0, 1))).path).toBe(first.name);
    const half = second.bytes.byteLength / 2;
    expect(catchError(() => writer.writeAt(second.name, -1, second.bytes.subarray(0, 1))).message).toMatch(
      /outside/,
    );
    expect(catchError(() => writer.writeAt(second.name, 0.5, second.bytes.subarray(0, 1))).message).toMatch(
      /outside/,
    );
    expect(
      catchError(() => writer.writeAt(second.name, half + 1, second.bytes.subarray(half))).message,
    ).toMatch(/outside/);
    writer.writeAt(second.name, half, second.bytes.subarray(half));
    expect(
      catchError(() => writer.writeAt(second.name, 1, second.bytes.subarray(1, half + 1))).message,
    ).toMatch(/overlap/);
    expect(catchError(() => writer.write(second.name, second.bytes)).message).toMatch(/already/);
    writer.abort();
  });

  it('finish names every tensor not completely written; abort then leaves the folder empty', () => {
    const folder = mkdtempSync(join(root, 'missing-'));
    const writer = new SafetensorsPlannedWriter(folder, mixed, { maxShardBytes: 200 });
    expect(readdirSync(folder).length).toBe(writer.plan.shards.length);
    expect(readdirSync(folder).every((name) => name.startsWith('.') && name.endsWith('.tmp'))).toBe(true);
    for (const t of mixed.slice(2)) if (t.name !== 'z.empty') writer.write(t.name, t.bytes);
    const partial = mixed[0]!;
    writer.writeAt(partial.name, 0, partial.bytes.subarray(0, 2));
    const error = catchError(() => writer.finish());
    expect(error.message).toContain(partial.name);
    expect(error.message).toContain(mixed[1]!.name);
    expect(error.message).toContain('z.empty'); // a zero-size tensor has to be written too
    expect(writer.missing().sort()).toEqual([partial.name, mixed[1]!.name, 'z.empty'].sort());
    writer.abort();
    expect(readdirSync(folder)).toEqual([]);
    writer.abort();
    expect(catchError(() => writer.write(mixed[1]!.name, mixed[1]!.bytes)).message).toMatch(/aborted/);
  });

  it('can finish after a missing-tensor failure once the tensor is written; abort after finish keeps the files', () => {
    const folder = mkdtempSync(join(root, 'retry-'));
    const writer = new SafetensorsPlannedWriter(folder, small);
    for (const t of small.slice(1)) writer.write(t.name, t.bytes);
    catchError(() => writer.finish());
    writer.write(small[0]!.name, small[0]!.bytes);
    writer.finish();
    writer.abort();
    expect(readdirSync(folder)).toEqual(['model.safetensors']);
    expect(catchError(() => writer.finish()).message).toMatch(/finished/);
  });

  it('a finish that fails on the index leaves no shards and no temporary files behind', () => {
    const folder = mkdtempSync(join(root, 'index-fails-'));
    mkdirSync(join(folder, 'model.safetensors.index.json')); // renaming the index onto a folder fails
    const writer = new SafetensorsPlannedWriter(folder, mixed, { maxShardBytes: 200 });
    for (const t of mixed) writer.write(t.name, t.bytes);
    expect(() => writer.finish()).toThrow();
    expect(readdirSync(folder)).toEqual(['model.safetensors.index.json']);
    writer.abort();
  });

  it('validates the tensors to plan and the shard size', () => {
    const plan =
      (tensors: SafetensorsTensorSpec[], options: ShardedWriteOptions = {}) =>
      () =>
        planSafetensorsShards(tensors, options);
    const f32 = (name: string, shape: number[]): SafetensorsTensorSpec => ({ name, dtype: 'F32', shape });
    expect(catchError(plan([f32('a', [2]), f32('a', [3])])).message).toMatch(/duplicate/);
    expect(catchError(plan([f32('a', [2, -1])])).path).toBe('a.shape');
    expect(catchError(plan([f32('a', [1.5])])).path).toBe('a.shape');
    expect(catchError(plan([{ name: 'a', dtype: 'F31' as SafetensorsDType, shape: [2] }])).path).toBe(
      'a.dtype',
    );
    expect(catchError(plan([{ name: 'a', dtype: 'F4', shape: [3] }])).path).toBe('a.shape');
    expect(catchError(plan([f32('', [2])])).path).toBe('tensors[0].name');
    expect(catchError(plan([f32('__metadata__', [2])])).path).toBe('name');
    expect(catchError(plan([f32('a', [2])], { maxShardBytes: 0 })).path).toBe('maxShardBytes');
    const folder = mkdtempSync(join(root, 'invalid-'));
    catchError(() => new SafetensorsPlannedWriter(folder, [f32('a', [-2])]));
    expect(readdirSync(folder)).toEqual([]);
  });
});
