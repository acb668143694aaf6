// Scratch memory kept across the tensors of one merge. A method that caches data between its passes
// (TIES' deltas, up to MergeContext.cacheBytes) takes its arrays from here instead of allocating
// them per tensor, and so do the per-chunk buffers of the fused loops: freshly allocated memory is
// faulted in page by page, which on a VM costs about as much as the arithmetic it saves. With a
// MergeArena the arrays live in its WebAssembly memory, where the SIMD kernels run on them in place.
import type { MergeArena } from './merge-arena';

export interface ScratchPoolOptions {
  /** Arrays in SharedArrayBuffers (row workers read them); implied by `arena`. */
  readonly shared?: boolean;
  readonly arena?: MergeArena;
}

export class ScratchPool {
  private readonly arrays: Float32Array[] = [];
  private readonly chunkArrays: Float32Array[] = [];
  private readonly options: ScratchPoolOptions;

  constructor(options: ScratchPoolOptions | boolean = {}) {
    this.options = typeof options === 'boolean' ? { shared: options } : options;
  }

  /** The arena the arrays live in, if any. */
  get arena(): MergeArena | undefined {
    return this.options.arena;
  }

  private grown(list: Float32Array[], index: number, elements: number): Float32Array {
    let array = list[index];
    if (!array || array.length < elements) {
      const { arena, shared } = this.options;
      array = arena
        ? arena.allocateF32(elements)
        : new Float32Array(shared ? new SharedArrayBuffer(elements * 4) : new ArrayBuffer(elements * 4));
      list[index] = array;
    }
    return array.subarray(0, elements);
  }

  /** `count` arrays of `elements` each; their contents are left over from earlier use (not zeroed). */
  take(count: number, elements: number): Float32Array[] {
    return Array.from({ length: count }, (_, index) => this.grown(this.arrays, index, elements));
  }

  /** `count` chunk buffers of `elements` each for the calling thread's fused loops (distinct from `take`'s). */
  chunks(count: number, elements: number): Float32Array[] {
    return Array.from({ length: count }, (_, index) => this.grown(this.chunkArrays, index, elements));
  }
}
