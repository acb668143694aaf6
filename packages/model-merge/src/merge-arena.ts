// The memory a streaming merge computes in: one shared WebAssembly memory that holds the read
// buffers, the output buffer, the delta cache and every thread's chunk buffers. The SIMD kernels
// (simd/) work on all of them in place, and row workers share them without a copy.
// Regions are reserved at their largest planned size and reused for every tensor: a WebAssembly
// memory reserves address space, and a page counts towards RSS only once something touches it, while
// memory touched once stays faulted in (fresh buffers per tensor cost ~0.4 s per GB on a VM).
import { type WasmMemory, webAssembly } from '@meld/tensor-core';
import { loadMergeKernels, type MergeKernelExports } from './simd/kernels';

const PAGE = 65536;
/** 4 GiB, the most a 32-bit WebAssembly memory can address. */
const MAXIMUM_PAGES = 65536;
const ALIGNMENT = 64;
/** Arena bytes kept for chunk buffers and histograms, never given to tensor-sized buffers. */
const smallReserveBytes = 64 << 20;

const arenas = new WeakMap<ArrayBufferLike, MergeArena>();

/** The arena `view` lives in, if any. */
export function arenaOf(view: ArrayBufferView): MergeArena | undefined {
  return arenas.get(view.buffer);
}

/** The arena all of `views` live in, if they share one (then the SIMD kernels can take them). */
export function commonArena(...views: ArrayBufferView[]): MergeArena | undefined {
  const arena = arenas.get(views[0]!.buffer);
  if (arena === undefined) return undefined;
  for (let i = 1; i < views.length; i++) if (arenas.get(views[i]!.buffer) !== arena) return undefined;
  return arena;
}

export class MergeArena {
  readonly memory: WasmMemory;
  /** The SIMD kernels instantiated on `memory` for the calling thread. */
  readonly kernels: MergeKernelExports;
  private top = ALIGNMENT;
  /** Histograms given back, by bin count. */
  private readonly histograms = new Map<number, Uint32Array[]>();
  /** Where the kernels that return a count store it (an i32). */
  private readonly result: Int32Array;

  /** The most bytes the arena may hold (at most 4 GiB). */
  readonly maximumBytes: number;

  private constructor(memory: WasmMemory, kernels: MergeKernelExports, maximumBytes: number) {
    this.memory = memory;
    this.kernels = kernels;
    this.maximumBytes = maximumBytes;
    arenas.set(memory.buffer, this);
    const slot = this.allocate(4);
    this.result = new Int32Array(slot.buffer, slot.byteOffset, 1);
  }

  /** The SIMD applyTopK on `values` (in this arena): returns the updated count of threshold ties seen. */
  applyTopK(values: Float32Array, last: number, quota: number, seen: number, factor: number): number {
    this.kernels.applyTopK(
      values.byteOffset,
      values.length,
      last,
      quota,
      seen,
      factor,
      this.result.byteOffset,
    );
    return this.result[0]!;
  }

  /**
   * An arena of at most `maximumBytes` (default and cap: 4 GiB), or undefined where WebAssembly
   * SIMD or shared memory is unavailable (then everything runs in JS).
   */
  static create(maximumBytes = MAXIMUM_PAGES * PAGE): MergeArena | undefined {
    const wasm = webAssembly();
    if (wasm === undefined || typeof SharedArrayBuffer === 'undefined') return undefined;
    const pages = Math.max(1, Math.min(MAXIMUM_PAGES, Math.floor(maximumBytes / PAGE)));
    try {
      const memory = new wasm.Memory({ initial: 1, maximum: pages, shared: true });
      const kernels = loadMergeKernels(memory);
      return kernels ? new MergeArena(memory, kernels, pages * PAGE) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Bytes tensor-sized buffers may take in all (what the small buffers' reserve leaves). */
  get largeBufferBytes(): number {
    return Math.max(0, this.maximumBytes - smallReserveBytes - ALIGNMENT * 64);
  }

  /**
   * Room for a large buffer (a tensor's input or output) of `byteLength` bytes, leaving the last
   * `smallReserveBytes` to the small ones (chunk buffers, histograms) that must always fit.
   */
  fits(byteLength: number): boolean {
    return Math.ceil(this.top / ALIGNMENT) * ALIGNMENT + byteLength + smallReserveBytes <= this.maximumBytes;
  }

  /** `byteLength` bytes (64-byte aligned) that stay reserved for the arena's life; contents not zeroed after reuse. */
  allocate(byteLength: number): Uint8Array {
    const start = Math.ceil(this.top / ALIGNMENT) * ALIGNMENT;
    const end = start + Math.max(0, byteLength);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have + pages * PAGE > this.maximumBytes)
        throw new RangeError(`merge arena: ${end} bytes exceed its ${this.maximumBytes} bytes`);
      this.memory.grow(pages);
      arenas.set(this.memory.buffer, this); // a grown memory hands out a new SharedArrayBuffer
    }
    this.top = end;
    return new Uint8Array(this.memory.buffer, start, byteLength);
  }

  allocateF32(count: number): Float32Array {
    const bytes = this.allocate(count * 4);
    return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  }

  /** Whether `view` lives in this arena (its byteOffset is then the kernels' pointer). */
  owns(view: ArrayBufferView): boolean {
    return arenas.get(view.buffer) === this;
  }

  /** A zeroed histogram of `bins` u32 counters for the kernels; give it back with `returnHistogram`. */
  borrowHistogram(bins = 65536): Uint32Array {
    const histogram = this.histograms.get(bins)?.pop();
    if (histogram) return histogram.fill(0);
    const bytes = this.allocate(bins * 4);
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bins).fill(0);
  }

  returnHistogram(histogram: Uint32Array): void {
    const free = this.histograms.get(histogram.length);
    if (free) free.push(histogram);
    else this.histograms.set(histogram.length, [histogram]);
  }
}

/**
 * A buffer reused across tensors: a region of the arena, reallocated there only when it must grow;
 * a request larger than the arena can still give is served from a separate heap buffer (its
 * tensor then runs on the JS kernels: same bytes, slower) and the arena region is kept.
 */
export class ReusableBuffer {
  private region: Uint8Array | undefined;
  private heap: Uint8Array | undefined;

  constructor(
    private readonly arena: MergeArena | undefined,
    private readonly shared = false,
  ) {}

  /** Reserves `byteLength` in the arena up front when it fits (see mergeModels' sizing). */
  reserve(byteLength: number): void {
    if (this.arena?.fits(byteLength) && (this.region?.byteLength ?? 0) < byteLength)
      this.region = this.arena.allocate(byteLength);
  }

  get(byteLength: number): Uint8Array {
    if (this.region && this.region.byteLength >= byteLength) return this.region.subarray(0, byteLength);
    if (this.arena?.fits(byteLength)) {
      this.region = this.arena.allocate(byteLength);
      return this.region;
    }
    if (!this.heap || this.heap.byteLength < byteLength)
      this.heap = new Uint8Array(
        this.shared ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength),
      );
    return this.heap.subarray(0, byteLength);
  }
}
