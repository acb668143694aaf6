// Scratch memory kept across the tensors of one merge. A method that caches data between its passes
// (TIES' deltas, up to MergeContext.cacheBytes) takes its arrays from here instead of allocating
// them per tensor: freshly allocated memory is faulted in page by page, which on a VM costs about
// as much as the arithmetic it saves.

export class ScratchPool {
  private readonly arrays: Float32Array[] = [];

  /** With `shared`, the arrays live in SharedArrayBuffers (row workers read them). */
  constructor(private readonly shared = false) {}

  /** `count` arrays of `elements` each; their contents are left over from earlier use (not zeroed). */
  take(count: number, elements: number): Float32Array[] {
    const taken: Float32Array[] = [];
    for (let index = 0; index < count; index++) {
      let array = this.arrays[index];
      if (!array || array.length < elements) {
        array = new Float32Array(
          this.shared ? new SharedArrayBuffer(elements * 4) : new ArrayBuffer(elements * 4),
        );
        this.arrays[index] = array;
      }
      taken.push(array.subarray(0, elements));
    }
    return taken;
  }
}
