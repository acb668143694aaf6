// Property tests: real files corrupted at random bytes or truncated must give either a valid
// result or a typed MeldError (FormatError/DTypeError) naming the file, never another exception,
// a hang, or an allocation sized by a forged header field.
import {
  closeSync,
  copyFileSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, MeldError } from '../errors';
import { encodeBf16, encodeF16 } from '../half';
import { quantizeQ8_0 } from '../quant/q8-0';
import { Tensor } from '../tensor';
import { RandomAccessFile } from './file-reader';
import { openGguf, parseGgufHeader } from './gguf-reader';
import { openSafetensors } from './safetensors-reader';
import { writeSafetensors } from './safetensors-writer';

const folder = mkdtempSync(join(tmpdir(), 'meld-corrupt-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'bytes'; edits: { at: number; value: number }[] }
  | { kind: 'u64'; at: number; value: bigint };

function mutation(size: number, hotBytes: number): fc.Arbitrary<Mutation> {
  const position = fc.oneof(fc.integer({ min: 0, max: hotBytes - 1 }), fc.integer({ min: 0, max: size - 1 }));
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: size - 1 }) }),
    fc.record({
      kind: fc.constant('bytes' as const),
      edits: fc.array(fc.record({ at: position, value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
    fc.record({
      kind: fc.constant('u64' as const),
      at: fc.integer({ min: 0, max: hotBytes - 8 }),
      value: fc.oneof(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 0xffffffffn),
      ),
    }),
  );
}

/** Applies a mutation to a private copy of `original` and returns its path. */
function corrupt(original: Uint8Array, path: string, m: Mutation): string {
  const fd = openSync(path, 'w');
  try {
    if (m.kind === 'truncate') {
      writeSync(fd, original, 0, m.at);
      ftruncateSync(fd, m.at);
    } else {
      const copy = Buffer.from(original);
      if (m.kind === 'bytes') for (const edit of m.edits) copy[edit.at] = edit.value;
      else copy.writeBigUInt64LE(m.value, m.at);
      writeSync(fd, copy);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

function expectTypedOrValid(path: string, use: () => void): void {
  const started = Date.now();
  try {
    use();
  } catch (error) {
    if (!MeldError.isInstance(error)) throw error;
    if (error instanceof FormatError) expect(error.file).toBe(path);
  }
  expect(Date.now() - started).toBeLessThan(5000);
}

describeWithShared('corrupted stories260K.gguf', ['models/stories260K/stories260K.gguf'], () => {
  it('only typed errors, no hang, for random byte edits, u64 forgeries and truncations', () => {
    const source = sharedFile('models/stories260K/stories260K.gguf');
    const original = new Uint8Array(readFileSync(source));
    const header = new RandomAccessFile(source);
    const dataStart = parseGgufHeader(header).dataStart;
    header.close();
    const path = join(folder, 'corrupt.gguf');
    fc.assert(
      fc.property(mutation(original.byteLength, dataStart), (m) => {
        corrupt(original, path, m);
        expectTypedOrValid(path, () => {
          const file = openGguf(path);
          try {
            for (const key of file.metadata.keys()) file.get(key);
            for (const t of file.tensors) file.readTensorF32(t.name);
          } finally {
            file.close();
          }
        });
      }),
      { numRuns: 200, seed: Number(process.env.MELD_FC_SEED ?? 20261126) },
    );
  });

  it('forged counts fail before any allocation: tensor_count, metadata count, string and array lengths', () => {
    const source = sharedFile('models/stories260K/stories260K.gguf');
    const original = new Uint8Array(readFileSync(source));
    const path = join(folder, 'forged.gguf');
    const cases: [number, bigint, string][] = [
      [8, 2n ** 60n, 'tensor_count'],
      [16, 2n ** 40n, 'tensor_count'],
      [24, 2n ** 62n, 'metadata[0].key'],
      // the first key's array (tokenizer.ggml.tokens) length sits after its key and two type ids
      [24 + 8 + 'tokenizer.ggml.tokens'.length + 8, 2n ** 50n, 'tokenizer.ggml.tokens.length'],
    ];
    for (const [at, value, field] of cases) {
      corrupt(original, path, { kind: 'u64', at, value });
      expect(() => openGguf(path)).toThrow(FormatError);
      try {
        openGguf(path);
      } catch (error) {
        expect((error as FormatError).field).toBe(field);
      }
    }
    copyFileSync(source, path);
    expect(openGguf(path).tensors.length).toBe(48);
  });
});

describe('corrupted safetensors', () => {
  it('only typed errors, no hang, for random byte edits, u64 forgeries and truncations', () => {
    const source = join(folder, 'valid.safetensors');
    const values = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
    writeSafetensors(
      source,
      [
        {
          name: 'model.embed_tokens.weight',
          dtype: 'F32',
          shape: [16, 16],
          data: Tensor.fromF32(values, [16, 16]),
        },
        {
          name: 'model.layers.0.mlp.up_proj.weight',
          dtype: 'BF16',
          shape: [8, 32],
          data: encodeBf16(values),
        },
        {
          name: 'model.layers.0.mlp.down_proj.weight',
          dtype: 'F16',
          shape: [32, 8],
          data: encodeF16(values),
        },
        { name: 'scales', dtype: 'F8_E4M3', shape: [64], data: quantizeQ8_0(values).subarray(0, 64) },
        { name: 'ids', dtype: 'I64', shape: [4], data: new Uint8Array(32) },
      ],
      { metadata: { format: 'pt' } },
    );
    const original = new Uint8Array(readFileSync(source));
    const headerEnd = 8 + Number(Buffer.from(original).readBigUInt64LE(0));
    const path = join(folder, 'corrupt.safetensors');
    fc.assert(
      fc.property(mutation(original.byteLength, headerEnd), (m) => {
        corrupt(original, path, m);
        expectTypedOrValid(path, () => {
          const file = openSafetensors(path);
          try {
            for (const t of file.tensors) {
              if (t.dtype === 'I64') file.readBytes(t.name);
              else file.readTensor(t.name).toFloat32();
            }
          } finally {
            file.close();
          }
        });
      }),
      { numRuns: 200, seed: Number(process.env.MELD_FC_SEED ?? 20261126) },
    );
  });
});
