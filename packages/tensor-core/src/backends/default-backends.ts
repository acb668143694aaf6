// Registers the three backends on a registry, explicitly (importing this file registers nothing).
// Priorities: webgpu 30 > ort 20 > js 10; each starts lazily on first use.
import { type BackendRegistry, defaultRegistry } from '../kernels/registry';
import { createJsBackend } from './js/js-backend';
import { createOrtBackend } from './ort/ort-backend';
import { createWebGpuBackend } from './webgpu/webgpu-backend';

export interface DefaultBackendOptions {
  /** Threads for the js backend's WebAssembly matmul (default 1). */
  jsThreads?: number;
  /** onnxruntime's intraOpNumThreads (default 1). */
  ortThreads?: number;
}

export function registerDefaultBackends(
  registry: BackendRegistry = defaultRegistry,
  options: DefaultBackendOptions = {},
): void {
  registry.register('webgpu', 30, () => createWebGpuBackend());
  registry.register('ort', 20, () => createOrtBackend({ intraOpNumThreads: options.ortThreads ?? 1 }));
  registry.register('js', 10, () => createJsBackend({ threads: options.jsThreads ?? 1 }));
}
