// The webgpu backend: WGSL kernels (tiled matmul, matvec, elementwise, softmax, rmsnorm) through the
// `webgpu` package in Node and navigator.gpu in browsers. Fails to start with "no adapter" where there is
// no GPU (such as the 2-core development machines); the conformance suite then names it as skipped.

import { MeldError, ShapeMismatchError } from '../../errors';
import type { BackendV1, KernelImplementations } from '../../kernels/contracts';
import {
  checkBroadcast,
  checkNormWeight,
  lastDimension,
  matmulSizes,
  requireF32,
} from '../../kernels/shapes';
import { Tensor } from '../../tensor';
import { jsKernels } from '../js/js-backend';
import {
  BUFFER_COPY_DST,
  BUFFER_COPY_SRC,
  BUFFER_MAP_READ,
  BUFFER_STORAGE,
  BUFFER_UNIFORM,
  findGpu,
  type Gpu,
  type GpuBuffer,
  type GpuComputePipeline,
  type GpuDevice,
  MAP_MODE_READ,
} from './webgpu-api';
import {
  ELEMENTWISE_ADD,
  ELEMENTWISE_GELU_TANH,
  ELEMENTWISE_MUL,
  ELEMENTWISE_SCALE,
  ELEMENTWISE_SILU,
  elementwiseShader,
  matmulShader,
  matvecShader,
  rmsnormShader,
  softmaxShader,
} from './wgsl';

export interface WebGpuBackend extends BackendV1 {
  readonly adapterName: string;
}

export interface WebGpuBackendOptions {
  /** Dawn flags for the `webgpu` package in Node, e.g. ['backend=null'] (validates shaders, computes nothing). */
  dawnFlags?: string[];
}

/** A WGSL shader or a dispatch failed WebGPU validation. */
export class WebGpuError extends MeldError {
  constructor(message: string) {
    super('webgpu', `webgpu: ${message}`);
    this.name = 'WebGpuError';
  }
}

class GpuRunner {
  private readonly pipelines = new Map<string, GpuComputePipeline>();
  /**
   * `gpu` is held for as long as the device can be used: in Node, collecting the `webgpu` package's GPU
   * object destroys Dawn's instance, and a device that outlives its instance crashes the process natively
   * (futex error, SIGSEGV or std::system_error, whenever the garbage collector happens to run).
   */
  constructor(
    readonly device: GpuDevice,
    readonly gpu: Gpu,
  ) {}

  /** Destroys the device and waits until Dawn has finished with it, so the instance may go after it. */
  async dispose(): Promise<void> {
    this.device.destroy();
    await this.device.lost;
  }

  private pipeline(code: string): GpuComputePipeline {
    let pipeline = this.pipelines.get(code);
    if (pipeline === undefined) {
      const module = this.device.createShaderModule({ code });
      pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(code, pipeline);
    }
    return pipeline;
  }

  private upload(data: Float32Array | Uint32Array, usage: number): GpuBuffer {
    const size = Math.max(16, (data.byteLength + 15) & ~15);
    const buffer = this.device.createBuffer({ size, usage: usage | BUFFER_COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  /** Runs `code` with inputs, a uniform block and `outputLength` floats of output over `groups` workgroups. */
  async run(
    code: string,
    inputs: Float32Array[],
    params: Uint32Array,
    outputLength: number,
    groups: readonly [number, number, number],
  ): Promise<Float32Array> {
    const device = this.device;
    device.pushErrorScope('validation');
    const pipeline = this.pipeline(code);
    const buffers = inputs.map((input) => this.upload(input, BUFFER_STORAGE));
    const outputBytes = Math.max(16, outputLength * 4);
    const output = device.createBuffer({ size: outputBytes, usage: BUFFER_STORAGE | BUFFER_COPY_SRC });
    const uniform = this.upload(params, BUFFER_UNIFORM);
    const readback = device.createBuffer({ size: outputBytes, usage: BUFFER_MAP_READ | BUFFER_COPY_DST });
    const entries = [...buffers, output, uniform].map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...groups);
    pass.end();
    encoder.copyBufferToBuffer(output, 0, readback, 0, outputBytes);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error !== null) {
      for (const buffer of [...buffers, output, uniform, readback]) buffer.destroy();
      throw new WebGpuError(error.message);
    }
    await readback.mapAsync(MAP_MODE_READ);
    const result = new Float32Array(readback.getMappedRange().slice(0, outputLength * 4));
    readback.unmap();
    for (const buffer of [...buffers, output, uniform, readback]) buffer.destroy();
    return result;
  }

  /** Workgroup grid for `count` groups, wrapping into y past the per-dimension limit. */
  grid(count: number): [number, number, number] {
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    return count <= limit ? [Math.max(1, count), 1, 1] : [limit, Math.ceil(count / limit), 1];
  }
}

function params(values: readonly number[], floats: Record<number, number> = {}): Uint32Array {
  const block = new Uint32Array(Math.max(4, (values.length + 3) & ~3));
  block.set(values);
  const asFloat = new Float32Array(block.buffer);
  for (const [index, value] of Object.entries(floats)) asFloat[Number(index)] = value;
  return block;
}

/** Requests an adapter and device; throws "no adapter" where there is no usable GPU. */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const gpu = await findGpu(options.dawnFlags);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) throw new Error('no adapter (no GPU, or no Vulkan/Metal/D3D12 driver, is available)');
  // Large weights (11008 x 4096 f32 is 180 MB) need more than the default 128 MiB binding limit.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  const runner = new GpuRunner(device, gpu);
  const adapterName =
    adapter.info?.description || adapter.info?.device || adapter.info?.vendor || 'unknown adapter';

  const elementwise = async (x: Tensor, b: Float32Array | undefined, operation: number, factor = 0) => {
    const data = requireF32('elementwise', x);
    const groups = Math.ceil(x.size / 256);
    const out = await runner.run(
      elementwiseShader,
      [data, b ?? new Float32Array(1)],
      params([x.size, b?.length ?? 1, operation], { 3: factor }),
      x.size,
      runner.grid(groups),
    );
    return Tensor.fromF32(out, x.shape);
  };

  const kernels: Partial<KernelImplementations> = {
    matmul: async ({ a, b }, { transposeB }) => {
      const { m, n, k, batch, outShape } = matmulSizes(a, b, transposeB);
      const bStride = b.size === k * n ? 0 : k * n;
      const out = await runner.run(
        matmulShader,
        [requireF32('matmul', a), b.toFloat32()],
        params([m, n, k, transposeB ? 1 : 0, m * k, bStride, m * n, 0]),
        batch * m * n,
        [Math.ceil(n / 16), Math.ceil(m / 16), batch],
      );
      return Tensor.fromF32(out, outShape);
    },
    matvec: async (inputs, attributes) => {
      const { weight, x } = inputs;
      if (weight.dtype !== 'f32') return jsKernels.matvec(inputs, attributes);
      const [rows, cols] = weight.shape;
      if (weight.shape.length !== 2 || x.size !== cols)
        throw new ShapeMismatchError('matvec: x', [cols ?? 0], [...x.shape]);
      const out = await runner.run(
        matvecShader,
        [weight.toFloat32(), requireF32('matvec', x)],
        params([rows, cols]),
        rows,
        runner.grid(rows),
      );
      return Tensor.fromF32(out, [rows]);
    },
    add: ({ a, b }) => {
      checkBroadcast('add', a, b);
      return elementwise(a, b.toFloat32(), ELEMENTWISE_ADD);
    },
    mul: ({ a, b }) => {
      checkBroadcast('mul', a, b);
      return elementwise(a, b.toFloat32(), ELEMENTWISE_MUL);
    },
    scale: ({ x }, { factor }) => elementwise(x, undefined, ELEMENTWISE_SCALE, factor),
    silu: ({ x }) => elementwise(x, undefined, ELEMENTWISE_SILU),
    gelu: (inputs, attributes) =>
      attributes.approximate === 'tanh'
        ? elementwise(inputs.x, undefined, ELEMENTWISE_GELU_TANH)
        : jsKernels.gelu(inputs, attributes),
    softmax: async ({ x }) => {
      const size = lastDimension(x);
      const rows = x.size / size;
      const out = await runner.run(
        softmaxShader,
        [requireF32('softmax', x)],
        params([rows, size]),
        x.size,
        runner.grid(rows),
      );
      return Tensor.fromF32(out, x.shape);
    },
    rmsnorm: async ({ x, weight }, { epsilon }) => {
      checkNormWeight('rmsnorm', x, weight);
      const size = lastDimension(x);
      const rows = x.size / size;
      const out = await runner.run(
        rmsnormShader,
        [requireF32('rmsnorm', x), weight.toFloat32()],
        params([rows, size, 0], { 2: epsilon }),
        x.size,
        runner.grid(rows),
      );
      return Tensor.fromF32(out, x.shape);
    },
  };

  return {
    specificationVersion: 'v1',
    name: 'webgpu',
    kernels,
    adapterName,
    description: `WebGPU (${adapterName})`,
    dispose: () => runner.dispose(),
  };
}
