// The js backend: every kernel contract implemented with the plain functions of this folder. It is the
// reference for the conformance suite and the fallback for kernels other backends leave out.
import { ShapeMismatchError, ValidationError } from '../../errors';
import type { BackendV1, KernelImplementations } from '../../kernels/contracts';
import {
  checkBroadcast,
  checkNormWeight,
  lastDimension,
  leadingShape,
  matmulSizes,
  requireF32,
  ropeSizes,
} from '../../kernels/shapes';
import { Tensor } from '../../tensor';
import { add, gelu, mul, scale, silu } from './elementwise';
import { argmax, cosineSimilarityRows, reduceRows, topK } from './indexing';
import { matmulF32 } from './matmul';
import { matvecF32, matvecQ8_0 } from './matvec';
import { layernorm, rmsnorm, softmax } from './normalization';
import { rope } from './rope';
import { defaultSimdArena } from './wasm/simd-engine';

function like(x: Tensor, data: Float32Array): Tensor {
  return Tensor.fromF32(data, x.shape);
}

export const jsKernels: KernelImplementations = {
  matmul: ({ a, b }, { transposeB }) => {
    const { m, n, k, batch, outShape } = matmulSizes(a, b, transposeB);
    const out = new Float32Array(batch * m * n);
    matmulF32(out, requireF32('matmul', a), b.toFloat32(), m, n, k, transposeB, batch);
    return Tensor.fromF32(out, outShape);
  },
  matvec: ({ weight, x }) => {
    const [rows, cols] = weight.shape;
    if (weight.shape.length !== 2 || x.size !== cols) {
      throw new ShapeMismatchError('matvec: x', [cols ?? 0], [...x.shape]);
    }
    const out = new Float32Array(rows);
    if (weight.dtype === 'q8_0') matvecQ8_0(out, weight.bytes(), requireF32('matvec', x), rows, cols);
    else matvecF32(out, weight.toFloat32(), requireF32('matvec', x), rows, cols);
    return Tensor.fromF32(out, [rows]);
  },
  add: ({ a, b }) => {
    checkBroadcast('add', a, b);
    return like(a, add(new Float32Array(a.size), requireF32('add', a), b.toFloat32()));
  },
  mul: ({ a, b }) => {
    checkBroadcast('mul', a, b);
    return like(a, mul(new Float32Array(a.size), requireF32('mul', a), b.toFloat32()));
  },
  scale: ({ x }, { factor }) => like(x, scale(new Float32Array(x.size), requireF32('scale', x), factor)),
  softmax: ({ x }) => like(x, softmax(new Float32Array(x.size), requireF32('softmax', x), lastDimension(x))),
  rmsnorm: ({ x, weight }, { epsilon }) => {
    checkNormWeight('rmsnorm', x, weight);
    return like(x, rmsnorm(new Float32Array(x.size), requireF32('rmsnorm', x), weight.toFloat32(), epsilon));
  },
  layernorm: ({ x, weight, bias }, { epsilon }) => {
    checkNormWeight('layernorm', x, weight);
    if (bias !== undefined) checkNormWeight('layernorm', x, bias);
    const out = new Float32Array(x.size);
    return like(
      x,
      layernorm(out, requireF32('layernorm', x), weight.toFloat32(), bias?.toFloat32() ?? null, epsilon),
    );
  },
  rope: ({ x }, { startPosition, theta, layout, rotaryDim }) => {
    const { tokens, heads, headDim } = ropeSizes(x);
    const data = requireF32('rope', x);
    const out = new Float32Array(x.size);
    const width = heads * headDim;
    for (let t = 0; t < tokens; t++) {
      const range = [t * width, (t + 1) * width] as const;
      rope(
        out.subarray(...range),
        data.subarray(...range),
        headDim,
        startPosition + t,
        theta,
        layout,
        rotaryDim,
      );
    }
    return like(x, out);
  },
  silu: ({ x }) => like(x, silu(new Float32Array(x.size), requireF32('silu', x))),
  gelu: ({ x }, { approximate }) =>
    like(x, gelu(new Float32Array(x.size), requireF32('gelu', x), approximate)),
  embedding: ({ table, ids }) => {
    const [vocab, dim] = table.shape;
    const out = new Float32Array(ids.length * dim);
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t];
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
        throw new ValidationError(`embedding.ids[${t}]`, `id ${id} outside [0, ${vocab})`);
      }
      out.set(table.row(id).toFloat32(), t * dim);
    }
    return Tensor.fromF32(out, [ids.length, dim]);
  },
  argmax: ({ x }) => {
    const size = lastDimension(x);
    const data = requireF32('argmax', x);
    const out = new Int32Array(x.size / size);
    for (let r = 0; r < out.length; r++) out[r] = argmax(data, r * size, size);
    return out;
  },
  topk: ({ x }, { k }) => {
    const size = lastDimension(x);
    const count = Math.min(k, size);
    const data = requireF32('topk', x);
    const rows = x.size / size;
    const values = new Float32Array(rows * count);
    const indices = new Int32Array(rows * count);
    for (let r = 0; r < rows; r++) {
      const result = topK(data.subarray(r * size, (r + 1) * size), count);
      values.set(result.values, r * count);
      indices.set(result.indices, r * count);
    }
    return { values: Tensor.fromF32(values, [...leadingShape(x), count]), indices };
  },
  cosineSimilarity: ({ a, b }) => {
    if (a.shape.join() !== b.shape.join())
      throw new ShapeMismatchError('cosineSimilarity: b', [...a.shape], [...b.shape]);
    const size = lastDimension(a);
    const out = new Float32Array(a.size / size);
    cosineSimilarityRows(out, requireF32('cosineSimilarity', a), b.toFloat32(), size);
    return Tensor.fromF32(out, leadingShape(a));
  },
  reduce: ({ x }, { operation }) => {
    const size = lastDimension(x);
    const out = new Float32Array(x.size / size);
    reduceRows(out, requireF32('reduce', x), size, operation);
    return Tensor.fromF32(out, leadingShape(x));
  },
};

export interface JsBackendOptions {
  /** Threads for the WebAssembly SIMD matmul (1 = this thread only). */
  threads?: number;
}

/** Creates the js backend. */
export function createJsBackend(options: JsBackendOptions = {}): BackendV1 {
  const arena = defaultSimdArena();
  if (options.threads !== undefined) arena?.setThreads(options.threads);
  return {
    specificationVersion: 'v1',
    name: 'js',
    kernels: jsKernels,
    description: arena
      ? `TypeScript + WebAssembly SIMD, ${arena.threads} thread(s)`
      : 'TypeScript only (no WebAssembly SIMD here)',
  };
}
