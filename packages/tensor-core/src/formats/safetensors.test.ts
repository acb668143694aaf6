import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DTypeError, FormatError, ValidationError } from '../errors';
import { encodeBf16, encodeF16 } from '../half';
import { Tensor } from '../tensor';
import { openSafetensors } from './safetensors-reader';
import { openSafetensorsModel, SafetensorsShardWriter, writeSafetensorsSharded } from './safetensors-sharded';
import { writeSafetensors } from './safetensors-writer';

const folder = mkdtempSync(join(tmpdir(), 'meld-safetensors-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function range(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i - n / 2) * scale);
}

/** Builds a safetensors file by hand (independent of our writer) from a header object and data. */
function handMade(path: string, header: unknown, data: Uint8Array, declaredLength?: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(declaredLength ?? json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  writeFileSync(path, out);
  return path;
}

describe('safetensors writer + lazy reader', () => {
  it('round-trips every native dtype, raw dtypes and __metadata__, in the HF layout', () => {
    const path = join(folder, 'all.safetensors');
    const f32 = Tensor.fromF32(range(12, 0.25), [3, 4]);
    const f16 = Tensor.fromBytes('f16', [2, 3], encodeF16([1, -2, 0.5, 65504, 1e-4, 0]));
    const bf16 = Tensor.fromBytes('bf16', [4], encodeBf16([1, -3, 1e30, 0.15625]));
    const i8 = Tensor.fromBytes('i8', [5], Uint8Array.from([0, 1, 127, 128, 255]));
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(8, -5n, true);
    const written = writeSafetensors(
      path,
      [
        { name: 'b.f32', dtype: 'F32', shape: [3, 4], data: f32 },
        { name: 'a.f16', dtype: 'F16', shape: [2, 3], data: () => f16 },
        { name: 'bf', dtype: 'BF16', shape: [4], data: bf16 },
        { name: 'int', dtype: 'I8', shape: [5], data: i8 },
        { name: 'e4m3', dtype: 'F8_E4M3', shape: [4], data: Uint8Array.from([0x38, 0x7e, 0x01, 0xb8]) },
        { name: 'e5m2', dtype: 'F8_E5M2', shape: [4], data: Uint8Array.from([0x3c, 0x7b, 0x7c, 0x01]) },
        { name: 'ids', dtype: 'I64', shape: [2], data: i64 },
      ],
      { metadata: { format: 'pt', note: 'é' } },
    );
    expect(written).toBe(48 + 12 + 8 + 5 + 4 + 4 + 16);

    // Layout checked by hand: u64 header length, multiple of 8, space padded, JSON, no holes.
    const raw = readFileSync(path);
    const headerLength = Number(raw.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const text = raw.subarray(8, 8 + headerLength).toString('utf8');
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.lastIndexOf('}') + 1))).toBe(true);
    const header = JSON.parse(text);
    expect(Object.keys(header)[0]).toBe('__metadata__');
    // huggingface/safetensors order: dtype descending (I64 > F32 > BF16 > F16 > F8 > I8), then name.
    expect(Object.keys(header).slice(1)).toEqual(['ids', 'b.f32', 'bf', 'a.f16', 'e4m3', 'e5m2', 'int']);
    expect(raw.length).toBe(8 + headerLength + written);

    const file = openSafetensors(path);
    try {
      expect(file.metadata).toEqual({ format: 'pt', note: 'é' });
      expect(file.readTensor('b.f32').toFloat32()).toEqual(f32.toFloat32());
      expect(file.readTensor('b.f32').shape).toEqual([3, 4]);
      const half = file.readTensor('a.f16');
      expect(half.dtype).toBe('f16');
      expect(Array.from(half.toFloat32())).toEqual([1, -2, 0.5, 65504, expect.closeTo(1e-4, 6), 0]);
      expect(file.readTensor('bf').dtype).toBe('bf16');
      expect(file.readTensor('bf').toFloat32()[1]).toBe(-3);
      expect(Array.from(file.readTensor('int').toFloat32())).toEqual([0, 1, 127, -128, -1]);
      expect(Array.from(file.readTensor('e4m3').toFloat32())).toEqual([1, 448, 2 ** -9, -1]);
      expect(Array.from(file.readTensor('e5m2').toFloat32())).toEqual([
        1,
        57344,
        Number.POSITIVE_INFINITY,
        2 ** -16,
      ]);
      expect(() => file.readTensor('ids')).toThrow(DTypeError);
      expect(new DataView(file.readBytes('ids').buffer).getBigInt64(8, true)).toBe(-5n);
      expect(() => file.readTensor('missing')).toThrow(FormatError);
      // reading into a reused buffer: the same values, a view of that buffer, too small refused
      const reused = new Uint8Array(64).fill(0xee);
      const viewed = file.readTensor('b.f32', reused);
      expect(viewed.toFloat32()).toEqual(f32.toFloat32());
      expect(viewed.bytes().buffer).toBe(reused.buffer);
      expect(file.readTensor('bf', reused).toFloat32()[1]).toBe(-3);
      expect(() => file.readBytes('b.f32', new Uint8Array(8))).toThrow(ValidationError);
    } finally {
      file.close();
    }
  });

  it('lists F4/F8_E8M0/C64 tensors and reads their bytes; decoding them is a DTypeError', () => {
    const path = join(folder, 'exotic.safetensors');
    writeSafetensors(path, [
      { name: 'fp4', dtype: 'F4', shape: [2, 3], data: Uint8Array.from([0x12, 0x34, 0x56]) },
      { name: 'scale', dtype: 'F8_E8M0', shape: [2], data: Uint8Array.from([127, 128]) },
      { name: 'complex', dtype: 'C64', shape: [1], data: new Uint8Array(8) },
    ]);
    const file = openSafetensors(path);
    expect(file.info('fp4').byteLength).toBe(3);
    expect(Array.from(file.readBytes('fp4'))).toEqual([0x12, 0x34, 0x56]);
    for (const name of ['fp4', 'scale', 'complex']) expect(() => file.readTensor(name)).toThrow(DTypeError);
    file.close();
    expect(() =>
      writeSafetensors(path, [{ name: 'odd', dtype: 'F4', shape: [3], data: new Uint8Array(2) }]),
    ).toThrow(/whole bytes/);
  });

  it('reads one tensor without reading the rest of the file', () => {
    const path = join(folder, 'big.safetensors');
    const tensors: Record<string, Tensor> = {};
    for (let i = 0; i < 8; i++) tensors[`layer.${i}`] = Tensor.fromF32(range(1 << 15, i + 1));
    writeSafetensors(path, tensors);
    const file = openSafetensors(path);
    const afterHeader = file.bytesRead;
    expect(afterHeader).toBeLessThan(2048);
    const t = file.readTensor('layer.5');
    expect(t.toFloat32()[1]).toBe((1 - (1 << 14)) * 6);
    expect(file.bytesRead - afterHeader).toBe(4 << 15);
    file.close();
  });

  it('is atomic: a failing producer leaves no file behind', () => {
    const path = join(folder, 'fail.safetensors');
    expect(() =>
      writeSafetensors(path, [
        { name: 'a', dtype: 'F32', shape: [2], data: Tensor.fromF32(new Float32Array(2)) },
        {
          name: 'b',
          dtype: 'F32',
          shape: [2],
          data: () => {
            throw new Error('producer failed');
          },
        },
      ]),
    ).toThrow('producer failed');
    expect(readdirSync(folder).filter((f) => f.includes('fail'))).toEqual([]);
  });

  it('rejects shapes and dtypes that disagree with the data, and GGUF block dtypes', () => {
    const path = join(folder, 'bad.safetensors');
    expect(() =>
      writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [3], data: new Uint8Array(8) }]),
    ).toThrow(DTypeError);
    expect(() => writeSafetensors(path, { q: Tensor.fromBytes('q8_0', [32], new Uint8Array(34)) })).toThrow(
      DTypeError,
    );
  });
});

describe('sharded safetensors as Hugging Face writes them', () => {
  const tensors = new Map<string, Tensor>();
  for (let i = 0; i < 5; i++)
    tensors.set(`model.layers.${i}.mlp.up_proj.weight`, Tensor.fromF32(range(64, i + 1), [8, 8]));

  it('splits by max shard bytes, names shards model-0000i-of-0000N and writes the index', () => {
    const out = mkdtempSync(join(folder, 'sharded-'));
    const result = writeSafetensorsSharded(out, tensors, { maxShardBytes: 600 });
    expect(result.files).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    expect(result.totalSize).toBe(5 * 256);
    const index = readFileSync(join(out, 'model.safetensors.index.json'), 'utf8');
    // What Python's json.dumps(index, indent=2, sort_keys=True) + "\n" prints for this index.
    const expected = [
      '{',
      '  "metadata": {',
      '    "total_size": 1280',
      '  },',
      '  "weight_map": {',
      '    "model.layers.0.mlp.up_proj.weight": "model-00001-of-00003.safetensors",',
      '    "model.layers.1.mlp.up_proj.weight": "model-00001-of-00003.safetensors",',
      '    "model.layers.2.mlp.up_proj.weight": "model-00002-of-00003.safetensors",',
      '    "model.layers.3.mlp.up_proj.weight": "model-00002-of-00003.safetensors",',
      '    "model.layers.4.mlp.up_proj.weight": "model-00003-of-00003.safetensors"',
      '  }',
      '}',
      '',
    ].join('\n');
    expect(index).toBe(expected);
    const model = openSafetensorsModel(out);
    expect(model.names.sort()).toEqual([...tensors.keys()].sort());
    expect(model.metadata.total_size).toBe(1280);
    for (const [name, tensor] of tensors)
      expect(model.readTensor(name).toFloat32()).toEqual(tensor.toFloat32());
    model.close();
    expect(openSafetensorsModel(join(out, 'model.safetensors.index.json')).names.length).toBe(5);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('holds at most one shard open while reading across shards', () => {
    const out = mkdtempSync(join(folder, 'handles-'));
    writeSafetensorsSharded(out, tensors, { maxShardBytes: 600 });
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    const model = openSafetensorsModel(out);
    for (const name of [...tensors.keys()].reverse()) {
      model.readTensor(name);
      expect(openFiles() - before).toBeLessThanOrEqual(1);
    }
    model.close();
    expect(openFiles()).toBe(before);
  });

  it('writes one shard as model.safetensors without an index; the push writer matches the planned writer', () => {
    const single = mkdtempSync(join(folder, 'single-'));
    expect(writeSafetensorsSharded(single, tensors).files).toEqual(['model.safetensors']);
    expect(readdirSync(single)).toEqual(['model.safetensors']);
    expect(openSafetensorsModel(single).readTensor('model.layers.3.mlp.up_proj.weight').toFloat32()).toEqual(
      tensors.get('model.layers.3.mlp.up_proj.weight')!.toFloat32(),
    );

    const planned = mkdtempSync(join(folder, 'planned-'));
    const pushed = mkdtempSync(join(folder, 'pushed-'));
    writeSafetensorsSharded(planned, tensors, { maxShardBytes: 600 });
    const writer = new SafetensorsShardWriter(pushed, { maxShardBytes: 600 });
    for (const [name, tensor] of tensors) writer.add(name, tensor);
    writer.finish();
    expect(readdirSync(pushed).sort()).toEqual(readdirSync(planned).sort());
    for (const name of readdirSync(planned)) {
      expect(readFileSync(join(pushed, name)).equals(readFileSync(join(planned, name)))).toBe(true);
    }
  });
});

describe('safetensors header validation', () => {
  const four = new Uint8Array(16);
  const cases: [string, unknown, Uint8Array, string, number?][] = [
    [
      'overlap',
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      four,
      "tensor 'b'.data_offsets",
    ],
    ['hole', { a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, four, "tensor 'a'.data_offsets"],
    [
      'byte count',
      { a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } },
      four,
      "tensor 'a'.data_offsets",
    ],
    [
      'unknown dtype',
      { a: { dtype: 'F12', shape: [2], data_offsets: [0, 8] } },
      new Uint8Array(8),
      "tensor 'a'.dtype",
    ],
    [
      'past the end',
      { a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } },
      four,
      "tensor 'a'.data_offsets",
    ],
    ['trailing bytes', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, four, 'data'],
    ['metadata', { __metadata__: { a: 1 } }, new Uint8Array(0), '__metadata__.a'],
    ['header length', {}, new Uint8Array(0), 'header_length', 1 << 20],
    ['absurd header length', {}, new Uint8Array(0), 'header_length', 2 ** 40],
    [
      'negative dim',
      { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } },
      new Uint8Array(0),
      "tensor 'a'.shape",
    ],
  ];
  it.each(cases)('%s -> FormatError naming the field', (_, header, data, field, declared) => {
    const path = handMade(join(folder, 'hand.safetensors'), header, data, declared);
    try {
      openSafetensors(path);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).field).toBe(field);
      expect((error as FormatError).file).toBe(path);
    }
  });
});
