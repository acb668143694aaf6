import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { DTypeError, FormatError } from '../errors';
import { Tensor } from '../tensor';
import { type GgufValue, openGguf } from './gguf-reader';
import { writeGguf } from './gguf-writer';

const folder = mkdtempSync(join(tmpdir(), 'meld-gguf-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const gguf = 'models/stories260K/stories260K.gguf';
const bin = 'models/stories260K/stories260K.bin';

describeWithShared('GGUF reader on stories260K.gguf', [gguf, bin], () => {
  it('reads v3 metadata of every type used, tensor infos and row-major shapes', () => {
    const file = openGguf(sharedFile(gguf));
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(32);
    expect(file.getString('general.architecture')).toBe('llama');
    expect(file.getNumber('llama.embedding_length')).toBe(64);
    expect(file.getNumber('llama.attention.head_count_kv')).toBe(4);
    const tokens = file.get('tokenizer.ggml.tokens') as string[];
    expect(tokens.length).toBe(512);
    expect(tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(file.metadata.get('tokenizer.ggml.scores')).toMatchObject({ type: 'array', elementType: 'f32' });
    expect(file.get('tokenizer.ggml.padding_token_id')).toBe(4294967295);
    expect(file.tensors.length).toBe(48);
    const ffnDown = file.info('blk.0.ffn_down.weight');
    expect(ffnDown.dims).toEqual([172, 64]);
    expect(ffnDown.shape).toEqual([64, 172]);
    expect(ffnDown.type).toBe('F32');
    // Reading one tensor reads just its bytes after the header.
    const before = file.bytesRead;
    file.readTensor('blk.4.ffn_norm.weight');
    expect(file.bytesRead - before).toBe(64 * 4);
    file.close();
  });

  it('reads GGUF v2 (same little-endian layout) and refuses v1 and big-endian files, naming the field', () => {
    const bytes = Buffer.from(readFileSync(sharedFile(gguf)));
    const path = join(folder, 'versions.gguf');
    bytes.writeUInt32LE(2, 4);
    writeFileSync(path, bytes);
    const v2 = openGguf(path);
    expect(v2.version).toBe(2);
    expect(v2.tensors.length).toBe(48);
    v2.close();
    for (const version of [1, 0x03000000]) {
      bytes.writeUInt32LE(version, 4);
      writeFileSync(path, bytes);
      expect(() => openGguf(path)).toThrow(expect.objectContaining({ field: 'version', file: path }));
    }
  });

  it('holds the same token embedding and ffn_down as the llama2.c checkpoint', () => {
    const raw = readFileSync(sharedFile(bin));
    const header = new Int32Array(raw.buffer, raw.byteOffset, 7);
    const [dim, hidden, layers, , , vocab] = Array.from(header) as number[];
    const weights = new Float32Array(raw.buffer.slice(raw.byteOffset + 28));
    const file = openGguf(sharedFile(gguf));
    expect(file.readTensor('token_embd.weight').toFloat32()).toEqual(weights.subarray(0, vocab! * dim!));
    // w2 (ffn_down) [L, dim, hidden] sits after embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1.
    const kvDim = (dim! * 4) / 8;
    let offset = vocab! * dim! + layers! * dim!;
    offset += layers! * dim! * dim! + 2 * layers! * dim! * kvDim + layers! * dim! * dim! + layers! * dim!;
    offset += layers! * hidden! * dim!;
    const w2Layer2 = weights.subarray(offset + 2 * dim! * hidden!, offset + 3 * dim! * hidden!);
    expect(file.readTensor('blk.2.ffn_down.weight').toFloat32()).toEqual(w2Layer2);
    file.close();
  });

  it('round-trips through our writer: same metadata, same tensors; F16 and Q8_0 within their precision', () => {
    const source = openGguf(sharedFile(gguf));
    const out = join(folder, 'copy.gguf');
    writeGguf(out, {
      metadata: source.metadata,
      tensors: source.tensors.map((t) => ({
        name: t.name,
        shape: t.shape,
        type: t.type,
        data: () => source.readTensor(t.name),
      })),
    });
    const copy = openGguf(out);
    expect([...copy.metadata.entries()]).toEqual([...source.metadata.entries()]);
    expect(copy.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(
      source.tensors.map((t) => [t.name, t.type, t.shape]),
    );
    for (const t of source.tensors)
      expect(Buffer.from(copy.readBytes(t.name)).equals(source.readBytes(t.name))).toBe(true);
    // Byte-identical header and data layout to the ggml-org file (same writer conventions).
    expect(readFileSync(out).equals(readFileSync(sharedFile(gguf)))).toBe(true);

    const q8 = join(folder, 'q8.gguf');
    writeGguf(q8, {
      metadata: source.metadata,
      tensors: source.tensors.map((t) => ({
        name: t.name,
        shape: t.shape,
        type: t.shape.length === 2 && t.shape[1]! % 32 === 0 ? 'Q8_0' : 'F16',
        data: () => source.readTensor(t.name),
      })),
    });
    const quantized = openGguf(q8);
    expect(quantized.info('blk.0.attn_q.weight').type).toBe('Q8_0');
    expect(quantized.readTensor('blk.0.attn_q.weight').dtype).toBe('q8_0');
    expect(quantized.info('blk.0.attn_norm.weight').type).toBe('F16');
    const original = source.readTensor('blk.0.ffn_up.weight').toFloat32();
    const decoded = quantized.readTensorF32('blk.0.ffn_up.weight').toFloat32();
    const amax = Math.max(...Array.from(original, Math.abs));
    for (let i = 0; i < original.length; i++)
      expect(Math.abs(decoded[i]! - original[i]!)).toBeLessThan(amax / 127);
    source.close();
    copy.close();
    quantized.close();
  });
});

describe('GGUF writer', () => {
  it('writes every metadata type, nested arrays, u64 above 2^53, and honours alignment', () => {
    const metadata: Record<string, GgufValue> = {
      'a.u8': { type: 'u8', value: 255 },
      'a.i8': { type: 'i8', value: -128 },
      'a.u16': { type: 'u16', value: 65535 },
      'a.i16': { type: 'i16', value: -32768 },
      'a.u32': { type: 'u32', value: 4294967295 },
      'a.i32': { type: 'i32', value: -2147483648 },
      'a.f32': { type: 'f32', value: 0.5 },
      'a.bool': { type: 'bool', value: true },
      'a.string': { type: 'string', value: 'héllo' },
      'a.u64': { type: 'u64', value: 2n ** 63n + 5n },
      'a.u64.small': { type: 'u64', value: 7 },
      'a.i64': { type: 'i64', value: -(2n ** 60n) },
      'a.f64': { type: 'f64', value: Math.PI },
      'a.array': { type: 'array', elementType: 'string', value: ['x', 'yy', ''] },
      'a.nested': {
        type: 'array',
        elementType: 'array',
        value: [
          { type: 'array', elementType: 'i32', value: [1, 2] },
          { type: 'array', elementType: 'i32', value: [] },
        ],
      },
    };
    const path = join(folder, 'types.gguf');
    const t = Tensor.fromF32(
      Float32Array.from({ length: 6 }, (_, i) => i),
      [2, 3],
    );
    writeGguf(
      path,
      {
        metadata,
        tensors: [
          { name: 'x', shape: [2, 3], data: t },
          { name: 'y', shape: [3], data: Tensor.fromF32(new Float32Array(3)) },
        ],
      },
      { alignment: 64 },
    );
    const file = openGguf(path);
    expect(file.alignment).toBe(64);
    expect(file.dataStart % 64).toBe(0);
    expect(file.info('y').offset).toBe(64);
    for (const [key, value] of Object.entries(metadata)) expect(file.metadata.get(key)).toEqual(value);
    expect(file.get('general.alignment')).toBe(64);
    expect(file.readTensor('x').toFloat32()).toEqual(t.toFloat32());
    expect(file.info('x').dims).toEqual([3, 2]);
    file.close();
  });

  it('refuses rows that split a Q8_0 block and unknown types', () => {
    const path = join(folder, 'bad.gguf');
    const data = Tensor.fromF32(new Float32Array(40), [2, 20]);
    expect(() =>
      writeGguf(path, { metadata: {}, tensors: [{ name: 'x', shape: [2, 20], type: 'Q8_0', data }] }),
    ).toThrow(DTypeError);
    expect(() => openGguf(join(folder, 'missing.gguf'))).toThrow(FormatError);
  });
});
