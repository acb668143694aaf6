// The ort backend beyond single kernels: a whole hand-serialized graph run by onnxruntime-node, compared with
// a float64 reference computed here. (Every kernel the backend implements is also in conformance.test.ts.)
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../tensor';
import { createSimdArena } from '../js/wasm/simd-engine';
import { ONNX_FLOAT } from './onnx-model';
import { createOrtBackend } from './ort-backend';
import { ProtobufWriter } from './protobuf-writer';

describe('ProtobufWriter', () => {
  it('encodes varints, negative int64 as ten bytes, floats and nested messages as the spec says', () => {
    expect(Array.from(new ProtobufWriter().int(1, 150).finish())).toEqual([0x08, 0x96, 0x01]);
    expect(Array.from(new ProtobufWriter().int(2, -1).finish())).toEqual([
      0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    expect(Array.from(new ProtobufWriter().float(2, 1).finish())).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    expect(Array.from(new ProtobufWriter().message(3, (m) => m.string(1, 'hi')).finish())).toEqual([
      0x1a, 0x04, 0x0a, 0x02, 0x68, 0x69,
    ]);
  });
});

describe('ort backend', () => {
  it('runs a whole graph: softmax(x @ w + bias) with w and bias as initializers', async () => {
    const backend = await createOrtBackend({ intraOpNumThreads: 1 });
    const w = Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2);
    const bias = Float32Array.from([0.5, -1, 2]);
    const graph = {
      name: 'linear-softmax',
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
        { opType: 'Add', inputs: ['xw', 'bias'], outputs: ['logits'] },
        { opType: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: -1 } },
      ],
      inputs: [{ name: 'x', elementType: ONNX_FLOAT, shape: ['batch', 4] }],
      outputs: [{ name: 'probabilities', elementType: ONNX_FLOAT, shape: ['batch', 3] }],
      initializers: [
        { name: 'w', dims: [4, 3], elementType: ONNX_FLOAT, values: w },
        { name: 'bias', dims: [3], elementType: ONNX_FLOAT, values: bias },
      ],
    };
    const x = Float32Array.from([1, 2, 3, 4, -1, 0, 0.5, 2]);
    const { probabilities } = await backend.runGraph(
      graph,
      { x: Tensor.fromF32(x, [2, 4]) },
      'linear-softmax',
    );
    const expected: number[] = [];
    for (let row = 0; row < 2; row++) {
      const logits = [0, 1, 2].map(
        (j) => bias[j] + [0, 1, 2, 3].reduce((s, p) => s + x[row * 4 + p] * w[p * 3 + j], 0),
      );
      const max = Math.max(...logits);
      const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
      expected.push(...logits.map((v) => Math.exp(v - max) / sum));
    }
    expect(probabilities.shape).toEqual([2, 3]);
    expect(probabilities.data).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-7 });
    expect(backend.description).toMatch(/intraOpNumThreads=1/);
    await backend.dispose?.();
  });
});

describe('ort backend inputs', () => {
  it('accepts tensors that live in shared memory (a SimdArena), which onnxruntime itself rejects', async () => {
    const arena = createSimdArena();
    const backend = await createOrtBackend();
    const a = arena.copyF32(Float32Array.from([1, 2, 3, 4]));
    const out = await backend.kernels.scale?.({ x: Tensor.fromF32(a, [2, 2]) }, { factor: 2 });
    expect(Array.from(out?.data ?? [])).toEqual([2, 4, 6, 8]);
    await backend.dispose?.();
  });
});
