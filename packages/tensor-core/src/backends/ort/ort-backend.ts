// The ort backend: onnxruntime-node's CPU provider runs hand-built ONNX graphs (one per kernel and shape,
// sessions cached). Worth it for large matmuls and whole graphs; small kernels it leaves out run on js.
import type * as Ort from 'onnxruntime-node';
import { MeldError, ShapeMismatchError } from '../../errors';
import type { BackendV1, KernelImplementations } from '../../kernels/contracts';
import { checkBroadcast, checkNormWeight, leadingShape, matmulSizes, requireF32 } from '../../kernels/shapes';
import { Tensor } from '../../tensor';
import { jsKernels } from '../js/js-backend';
import {
  argmaxGraph,
  binaryGraph,
  geluGraph,
  layernormGraph,
  matmulGraph,
  matvecGraph,
  reduceGraph,
  rmsnormGraph,
  scaleGraph,
  siluGraph,
  softmaxGraph,
} from './graphs';
import { type OnnxGraph, serializeOnnxModel } from './onnx-model';

type OrtModule = typeof Ort;

export interface OrtBackendOptions {
  /** Threads inside one operator (onnxruntime's intraOpNumThreads). Default 1. */
  intraOpNumThreads?: number;
}

export interface OrtBackend extends BackendV1 {
  readonly intraOpNumThreads: number;
  /**
   * Runs a whole ONNX graph (see serializeOnnxModel's OnnxGraph) on f32 inputs; sessions are cached under
   * `cacheKey` when one is given. Returns every f32 output by name.
   */
  runGraph(
    graph: OnnxGraph,
    inputs: Record<string, Tensor>,
    cacheKey?: string,
  ): Promise<Record<string, Tensor>>;
}

export class OrtError extends MeldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ort', message, options);
    this.name = 'OrtError';
  }
}

/** Loads onnxruntime-node (dynamically: it is heavy) and returns the ort backend. */
export async function createOrtBackend(options: OrtBackendOptions = {}): Promise<OrtBackend> {
  let ort: OrtModule;
  try {
    ort = await import('onnxruntime-node');
  } catch (error) {
    throw new OrtError(
      `onnxruntime-node could not be loaded: ${error instanceof Error ? error.message : error}`,
      {
        cause: error,
      },
    );
  }
  const threads = options.intraOpNumThreads ?? 1;
  const sessions = new Map<string, Promise<Ort.InferenceSession>>();

  const session = (key: string | undefined, build: () => OnnxGraph): Promise<Ort.InferenceSession> => {
    const cached = key === undefined ? undefined : sessions.get(key);
    if (cached !== undefined) return cached;
    const created = ort.InferenceSession.create(serializeOnnxModel(build()), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    if (key !== undefined) sessions.set(key, created);
    return created;
  };

  // onnxruntime-node rejects views of a SharedArrayBuffer ("Invalid argument"), e.g. SimdArena tensors:
  // those are copied; ordinary arrays are passed without a copy.
  const feed = (tensor: Tensor, shape: readonly number[] = tensor.shape): Ort.Tensor => {
    const data = tensor.toFloat32();
    const owned = data.buffer instanceof SharedArrayBuffer ? new Float32Array(data) : data;
    return new ort.Tensor('float32', owned, [...shape]);
  };

  const run = async (
    key: string,
    build: () => OnnxGraph,
    feeds: Record<string, Ort.Tensor>,
  ): Promise<Ort.InferenceSession.OnnxValueMapType> => (await session(key, build)).run(feeds);

  const floatOutput = (outputs: Ort.InferenceSession.OnnxValueMapType, shape: readonly number[]): Tensor => {
    const data = outputs.y?.data;
    if (!(data instanceof Float32Array)) throw new OrtError('expected a float32 output "y"');
    return Tensor.fromF32(data, shape);
  };

  const key = (...parts: unknown[]) => JSON.stringify(parts);

  const kernels: Partial<KernelImplementations> = {
    matmul: async ({ a, b }, { transposeB }) => {
      const { outShape } = matmulSizes(a, b, transposeB);
      requireF32('matmul', a);
      const outputs = await run(
        key('matmul', a.shape, b.shape, transposeB),
        () => matmulGraph(a.shape, b.shape, transposeB, outShape),
        {
          a: feed(a),
          b: feed(b),
        },
      );
      return floatOutput(outputs, outShape);
    },
    matvec: async (inputs, attributes) => {
      const { weight, x } = inputs;
      if (weight.dtype !== 'f32') return jsKernels.matvec(inputs, attributes);
      const [rows, cols] = weight.shape;
      if (weight.shape.length !== 2 || x.size !== cols)
        throw new ShapeMismatchError('matvec: x', [cols ?? 0], [...x.shape]);
      requireF32('matvec', x);
      const outputs = await run(key('matvec', rows, cols), () => matvecGraph(rows, cols), {
        weight: feed(weight),
        x: feed(x, [1, cols]),
      });
      return floatOutput(outputs, [rows]);
    },
    add: async ({ a, b }) => {
      checkBroadcast('add', a, b);
      requireF32('add', a);
      const outputs = await run(key('add', a.shape, b.shape), () => binaryGraph('Add', a.shape, b.shape), {
        a: feed(a),
        b: feed(b),
      });
      return floatOutput(outputs, a.shape);
    },
    mul: async ({ a, b }) => {
      checkBroadcast('mul', a, b);
      requireF32('mul', a);
      const outputs = await run(key('mul', a.shape, b.shape), () => binaryGraph('Mul', a.shape, b.shape), {
        a: feed(a),
        b: feed(b),
      });
      return floatOutput(outputs, a.shape);
    },
    scale: async ({ x }, { factor }) => {
      requireF32('scale', x);
      const outputs = await run(key('scale', x.shape, factor), () => scaleGraph(x.shape, factor), {
        x: feed(x),
      });
      return floatOutput(outputs, x.shape);
    },
    softmax: async ({ x }) => {
      requireF32('softmax', x);
      const outputs = await run(key('softmax', x.shape), () => softmaxGraph(x.shape), { x: feed(x) });
      return floatOutput(outputs, x.shape);
    },
    silu: async ({ x }) => {
      requireF32('silu', x);
      const outputs = await run(key('silu', x.shape), () => siluGraph(x.shape), { x: feed(x) });
      return floatOutput(outputs, x.shape);
    },
    gelu: async ({ x }, { approximate }) => {
      requireF32('gelu', x);
      const outputs = await run(key('gelu', x.shape, approximate), () => geluGraph(x.shape, approximate), {
        x: feed(x),
      });
      return floatOutput(outputs, x.shape);
    },
    layernorm: async ({ x, weight, bias }, { epsilon }) => {
      checkNormWeight('layernorm', x, weight);
      if (bias !== undefined) checkNormWeight('layernorm', x, bias);
      requireF32('layernorm', x);
      const feeds: Record<string, Ort.Tensor> = { x: feed(x), weight: feed(weight, [weight.size]) };
      if (bias !== undefined) feeds.bias = feed(bias, [bias.size]);
      const outputs = await run(
        key('layernorm', x.shape, bias !== undefined, epsilon),
        () => layernormGraph(x.shape, bias !== undefined, epsilon),
        feeds,
      );
      return floatOutput(outputs, x.shape);
    },
    rmsnorm: async ({ x, weight }, { epsilon }) => {
      checkNormWeight('rmsnorm', x, weight);
      requireF32('rmsnorm', x);
      const outputs = await run(key('rmsnorm', x.shape, epsilon), () => rmsnormGraph(x.shape, epsilon), {
        x: feed(x),
        weight: feed(weight, [weight.size]),
      });
      return floatOutput(outputs, x.shape);
    },
    argmax: async ({ x }) => {
      requireF32('argmax', x);
      const outputs = await run(key('argmax', x.shape), () => argmaxGraph(x.shape), { x: feed(x) });
      const data = outputs.y?.data;
      if (!(data instanceof BigInt64Array)) throw new OrtError('expected an int64 output "y"');
      return Int32Array.from(data, (value) => Number(value));
    },
    reduce: async ({ x }, { operation }) => {
      requireF32('reduce', x);
      const outputs = await run(key('reduce', x.shape, operation), () => reduceGraph(x.shape, operation), {
        x: feed(x),
      });
      return floatOutput(outputs, leadingShape(x));
    },
  };

  return {
    specificationVersion: 'v1',
    name: 'ort',
    kernels,
    intraOpNumThreads: threads,
    description: `onnxruntime-node ${ort.env.versions.node ?? ''} CPU, intraOpNumThreads=${threads}`,
    async runGraph(graph, inputs, cacheKey) {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(inputs)) feeds[name] = feed(tensor);
      const outputs = await (await session(cacheKey, () => graph)).run(feeds);
      const result: Record<string, Tensor> = {};
      for (const [name, value] of Object.entries(outputs)) {
        if (value.data instanceof Float32Array) result[name] = Tensor.fromF32(value.data, value.dims);
      }
      return result;
    },
    async dispose() {
      const all = [...sessions.values()];
      sessions.clear();
      for (const created of all) await (await created.catch(() => undefined))?.release();
    },
  };
}
