// The slice of the WebAssembly JS API the kernels use, typed here because this package compiles without
// the DOM library (and @types/node 20 does not declare WebAssembly). Read from globalThis at run time.

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

export interface WasmModule {
  readonly kind?: 'module';
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

/** The host's WebAssembly object, or undefined where there is none. */
export function webAssembly(): WebAssemblyApi | undefined {
  return Reflect.get(globalThis, 'WebAssembly');
}
