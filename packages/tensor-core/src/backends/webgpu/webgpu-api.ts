// The slice of the WebGPU API this backend uses, typed locally so the package compiles without
// @webgpu/types. At run time the objects come from the `webgpu` package (Node) or navigator.gpu (browsers).

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuComputePipeline {
  getBindGroupLayout(index: number): unknown;
}

export interface GpuComputePass {
  setPipeline(pipeline: GpuComputePipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(
    source: GpuBuffer,
    sourceOffset: number,
    target: GpuBuffer,
    targetOffset: number,
    size: number,
  ): void;
  finish(): unknown;
}

export interface GpuDevice {
  readonly limits: { maxComputeWorkgroupsPerDimension: number; maxStorageBufferBindingSize: number };
  readonly queue: {
    writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView): void;
    submit(commands: unknown[]): void;
  };
  createBuffer(descriptor: { size: number; usage: number }): GpuBuffer;
  createShaderModule(descriptor: { code: string }): unknown;
  createComputePipeline(descriptor: {
    layout: 'auto';
    compute: { module: unknown; entryPoint: string };
  }): GpuComputePipeline;
  createBindGroup(descriptor: {
    layout: unknown;
    entries: { binding: number; resource: { buffer: GpuBuffer } }[];
  }): unknown;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ message: string } | null>;
  destroy(): void;
  /** Settles once the device is gone (after destroy(), or when the GPU is lost). */
  readonly lost: Promise<unknown>;
}

export interface GpuAdapter {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  requestDevice(descriptor?: { requiredLimits?: Record<string, number> }): Promise<GpuDevice>;
}

export interface Gpu {
  requestAdapter(options?: {
    powerPreference?: 'high-performance' | 'low-power';
  }): Promise<GpuAdapter | null>;
}

export const BUFFER_MAP_READ = 0x1;
export const BUFFER_COPY_SRC = 0x4;
export const BUFFER_COPY_DST = 0x8;
export const BUFFER_UNIFORM = 0x40;
export const BUFFER_STORAGE = 0x80;
export const MAP_MODE_READ = 0x1;

/**
 * navigator.gpu in a browser, else the `webgpu` package's GPU in Node (created with Dawn `flags`, e.g.
 * ['backend=null'] for Dawn's validation-only null device); throws when neither loads.
 */
export async function findGpu(flags: string[] = []): Promise<Gpu> {
  const navigatorGpu: Gpu | undefined = Reflect.get(Reflect.get(globalThis, 'navigator') ?? {}, 'gpu');
  if (navigatorGpu !== undefined && flags.length === 0) return navigatorGpu;
  const specifier = 'webgpu';
  let module: { create?: (options: string[]) => Gpu };
  try {
    module = await import(/* @vite-ignore */ specifier);
  } catch (error) {
    throw new Error(
      `the optional "webgpu" package did not load: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (typeof module.create !== 'function') throw new Error('the "webgpu" package has no create()');
  return module.create(flags);
}
