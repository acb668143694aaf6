// Reading a tensor's bytes from its file range (tensorFileRange) and turning them into a Tensor
// (tensorFromBytes) must give exactly what readTensor gives, in sharded models, and bytes of the
// wrong length are rejected, naming the tensor.
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

  it('reads every tensor of a sharded model from its file range in uneven pieces, equal to readTensor', () => {
    const model = openSafetensorsModel(join(folder, 'model'));
    try {
      for (const name of Object.keys(tensors)) {
        const whole = model.readTensor(name);
        const { path, offset: start } = model.tensorFileRange(name);
        const file = readFileSync(path);
        const bytes = new Uint8Array(model.info(name).byteLength);
        for (let offset = 0; offset < bytes.byteLength; offset += 333)
          bytes.set(file.subarray(start + offset, start + Math.min(bytes.byteLength, offset + 333)), offset);
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

  it('rejects bytes of the wrong length, naming the tensor', () => {
    const model = openSafetensorsModel(join(folder, 'model'));
    try {
      expect(() => model.tensorFromBytes('c.weight', new Uint8Array(27))).toThrow(ValidationError);
      expect(() => model.tensorFromBytes('c.weight', new Uint8Array(27))).toThrow(/c\.weight/);
    } finally {
      model.close();
    }
  });
});
