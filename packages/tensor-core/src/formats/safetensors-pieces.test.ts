// Reading a tensor in pieces (readBytesAt) and turning the bytes into a Tensor (tensorFromBytes)
// must give exactly what readTensor gives, in single files and sharded models, and reject pieces
// outside the tensor, naming it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../errors';
import { encodeBf16 } from '../half';
import { Tensor } from '../tensor';
import { openSafetensorsModel, writeSafetensorsSharded } from './safetensors-sharded';

const folder = mkdtempSync(join(tmpdir(), 'meld-safetensors-pieces-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('safetensors pieces', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
  const tensors = {
    'a.weight': Tensor.fromBytes('bf16', [10, 100], encodeBf16(values)),
    'b.weight': Tensor.fromF32(values.subarray(0, 600), [20, 30]),
    'c.weight': Tensor.fromF32(values.subarray(0, 7), [7]),
  };
  writeSafetensorsSharded(join(folder, 'model'), tensors, { maxShardBytes: 2500 });

  it('reads every tensor of a sharded model in uneven pieces, equal to readTensor', () => {
    const model = openSafetensorsModel(join(folder, 'model'));
    try {
      for (const name of Object.keys(tensors)) {
        const whole = model.readTensor(name);
        const bytes = new Uint8Array(model.info(name).byteLength);
        for (let offset = 0; offset < bytes.byteLength; offset += 333)
          model.readBytesAt(name, offset, bytes.subarray(offset, Math.min(bytes.byteLength, offset + 333)));
        const pieced = model.tensorFromBytes(name, bytes);
        expect(pieced.dtype).toBe(whole.dtype);
        expect(pieced.shape).toEqual(whole.shape);
        expect(pieced.bytes()).toEqual(whole.bytes());
      }
    } finally {
      model.close();
    }
  });

  it('tells where each tensor lies in its shard: reading that range directly gives readBytes', () => {
    const model = openSafetensorsModel(join(folder, 'model'));
    try {
      for (const name of Object.keys(tensors)) {
        const { path, offset, byteLength } = model.tensorFileRange(name);
        expect(byteLength).toBe(model.info(name).byteLength);
        const direct = readFileSync(path).subarray(offset, offset + byteLength);
        expect(new Uint8Array(direct)).toEqual(model.readBytes(name));
      }
    } finally {
      model.close();
    }
  });

  it('rejects pieces outside the tensor and bytes of the wrong length, naming the tensor', () => {
    const model = openSafetensorsModel(join(folder, 'model'));
    try {
      expect(() => model.readBytesAt('c.weight', 20, new Uint8Array(9))).toThrow(ValidationError);
      expect(() => model.readBytesAt('c.weight', -1, new Uint8Array(1))).toThrow(/c\.weight/);
      expect(() => model.tensorFromBytes('c.weight', new Uint8Array(27))).toThrow(/c\.weight/);
    } finally {
      model.close();
    }
  });
});
