// Loads model-merge's SIMD kernels on a shared WebAssembly memory, or reports that this host cannot.
// The Module is compiled once per thread; every memory gets its own Instance.
import { type WasmMemory, type WasmModule, webAssembly } from '@meld/tensor-core';
import { type MergeKernelExports, mergeKernelModuleBytes } from './kernels-module';

export {
  HIGH_BINS,
  HIGH_SUB_HISTOGRAMS,
  type MergeKernelExports,
  mergeKernelModuleBytes,
} from './kernels-module';

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly, SIMD128 or shared memory is missing. */
function compiledModule(): WasmModule | null {
  if (compiled === undefined) {
    compiled = null;
    try {
      const wasm = webAssembly();
      const bytes = mergeKernelModuleBytes();
      if (wasm !== undefined && typeof SharedArrayBuffer !== 'undefined' && wasm.validate(bytes))
        compiled = new wasm.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * The kernels bound to `memory` (a shared WebAssembly.Memory of at most 65536 pages), or undefined when
 * this host lacks WebAssembly SIMD or shared memory, or the memory does not fit the module's import.
 */
export function loadMergeKernels(memory: WasmMemory): MergeKernelExports | undefined {
  const module = compiledModule();
  const wasm = webAssembly();
  if (module === null || wasm === undefined || !(memory.buffer instanceof SharedArrayBuffer))
    return undefined;
  let exports: Record<string, unknown>;
  try {
    exports = new wasm.Instance(module, { env: { memory } }).exports;
  } catch {
    return undefined;
  }
  const kernel = <Name extends keyof MergeKernelExports>(name: Name): MergeKernelExports[Name] => {
    const value = exports[name];
    if (typeof value !== 'function') throw new Error(`merge kernel module lacks export ${name}`);
    return value as MergeKernelExports[Name];
  };
  return {
    decodeBf16: kernel('decodeBf16'),
    scaleBf16: kernel('scaleBf16'),
    axpyBf16: kernel('axpyBf16'),
    scaleF32: kernel('scaleF32'),
    axpyF32: kernel('axpyF32'),
    subBf16: kernel('subBf16'),
    subF32: kernel('subF32'),
    encodeBf16: kernel('encodeBf16'),
    histHigh: kernel('histHigh'),
    histHighSplit: kernel('histHighSplit'),
    histHighFold: kernel('histHighFold'),
    histLow: kernel('histLow'),
    histLowRange: kernel('histLowRange'),
    histLowRangeAbove: kernel('histLowRangeAbove'),
    countEqualMagnitude: kernel('countEqualMagnitude'),
    applyTopK: kernel('applyTopK'),
    consensus2: kernel('consensus2'),
  };
}
