// Exact rank selection over |x| without a scratch copy of the data: two histogram passes over the
// float bits (non-negative f32 bit patterns order like their values). Pass 1 counts the high 16
// bits, pass 2 the low 16 bits inside the bucket that holds each wanted rank. Memory: 64K counters
// per wanted rank; time: two streaming passes, however large the tensor. Chunks that live in a
// MergeArena are counted by its SIMD kernels into arena histograms, added in at the end of the pass.
import { arenaOf, type MergeArena } from './merge-arena';

const floatView = new Float32Array(1);
const bitView = new Uint32Array(floatView.buffer);

export function magnitudeBits(values: Float32Array, into: Uint32Array): Uint32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) into[i] = bits[i]! & 0x7fffffff;
  return into;
}

export interface RankResult {
  /** |x| at the wanted descending rank. */
  readonly value: number;
  /** How many elements have |x| strictly greater. */
  readonly greater: number;
}

/** Finds the |x| values at given descending ranks (0 = largest) in two passes. */
export class MagnitudeRankSelector {
  private readonly ranks: readonly number[];
  private readonly high = new Uint32Array(65536);
  private readonly low: Uint32Array[];
  private buckets: number[] = [];
  private greaterAbove: number[] = [];
  /** Histograms borrowed from an arena (high pass, then one per rank), added into ours at the pass end. */
  private arena: MergeArena | undefined;
  private arenaHigh: Uint32Array | undefined;
  private arenaLow: Uint32Array[] | undefined;

  constructor(ranks: readonly number[]) {
    this.ranks = ranks;
    this.low = ranks.map(() => new Uint32Array(65536));
  }

  /** Pass 1: feed every chunk. */
  observeHigh(values: Float32Array): void {
    this.highCounted = true;
    const arena = this.arenaFor(values);
    if (arena) {
      this.arenaHigh ??= arena.borrowHistogram();
      arena.kernels.histHigh(this.arenaHigh.byteOffset, values.byteOffset, values.length);
      return;
    }
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const high = this.high;
    for (let i = 0; i < bits.length; i++) high[(bits[i]! & 0x7fffffff) >>> 16]!++;
  }

  /**
   * Between the passes. With only the window counted (no high bits), finds each wanted rank's
   * bucket from the count above the window and the window's bucket totals; returns false when a
   * rank lies outside the window: then count the high bits (addHigh) and call endHigh again.
   */
  endHigh(): boolean {
    if (this.windowUsed) return true; // already resolved from the window
    if (this.arenaHigh) {
      for (let bucket = 0; bucket < 65536; bucket++) this.high[bucket]! += this.arenaHigh[bucket]!;
      this.arena!.returnHistogram(this.arenaHigh);
      this.arenaHigh = undefined;
    }
    // a window that holds every wanted rank settles them (and their low bits) by itself
    if (this.resolveFromWindow()) return true;
    if (!this.highCounted) return false;
    this.buckets = [];
    this.greaterAbove = [];
    for (const rank of this.ranks) {
      let above = 0;
      let bucket = 65535;
      for (; bucket >= 0; bucket--) {
        const count = this.high[bucket]!;
        if (above + count > rank) break;
        above += count;
      }
      this.buckets.push(bucket);
      this.greaterAbove.push(above);
    }
    return true;
  }

  private resolveFromWindow(): boolean {
    const window = this.window;
    const counts = this.windowCounts;
    if (window === undefined || counts === undefined) return false;
    const totals = Array.from({ length: window.count }, (_, j) => {
      let total = 0;
      for (let bin = j * 65536; bin < (j + 1) * 65536; bin++) total += counts[bin]!;
      return total;
    });
    const above = counts[window.count * 65536] ?? 0;
    const buckets: number[] = [];
    const greaterAbove: number[] = [];
    for (const rank of this.ranks) {
      let greater = above;
      let found = -1;
      if (rank >= above)
        for (let j = window.count - 1; j >= 0; j--) {
          if (greater + totals[j]! > rank) {
            found = window.low + j;
            break;
          }
          greater += totals[j]!;
        }
      if (found < 0) return false; // above or below the window: the high bits must be counted
      buckets.push(found);
      greaterAbove.push(greater);
    }
    this.buckets = buckets;
    this.greaterAbove = greaterAbove;
    for (const [rank, bucket] of buckets.entries()) {
      const offset = (bucket - window.low) * 65536;
      this.addLow(rank, counts.subarray(offset, offset + 65536));
    }
    this.windowUsed = true;
    this.windowCounts = undefined;
    return true;
  }

  /** Pass 2: feed every chunk again. */
  observeLow(values: Float32Array): void {
    const arena = this.arenaFor(values);
    if (arena) {
      this.arenaLow ??= this.ranks.map(() => arena.borrowHistogram());
      for (let r = 0; r < this.ranks.length; r++)
        arena.kernels.histLow(
          this.arenaLow[r]!.byteOffset,
          values.byteOffset,
          values.length,
          this.buckets[r]!,
        );
      return;
    }
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let r = 0; r < this.ranks.length; r++) {
      const bucket = this.buckets[r]!;
      const low = this.low[r]!;
      for (let i = 0; i < bits.length; i++) {
        const b = bits[i]! & 0x7fffffff;
        if (b >>> 16 === bucket) low[b & 0xffff]!++;
      }
    }
  }

  /** High buckets [low, low + count) whose low bits pass 1 counts too (see `windowFromSample`). */
  private window: { readonly low: number; readonly count: number } | undefined;
  /** Whether pass 1 counted the high bits (observeHigh / addHigh), not only the window. */
  private highCounted = false;
  private windowCounts: Uint32Array | undefined;
  private windowUsed = false;

  /**
   * Chooses the high buckets likely to hold every wanted rank from the high-bits histogram of a
   * sample (`sampleSize` of `total` elements): each rank's sample position ± 4 standard deviations.
   * Pass 1 then also counts their low bits (`addWindow`), and when the true buckets fall inside,
   * pass 2 is not needed (`lowCounted`). Undefined (no window) when they spread over more than
   * `maxBuckets`.
   */
  chooseWindow(
    sample: Uint32Array,
    sampleSize: number,
    total: number,
    maxBuckets = 8,
  ): { readonly low: number; readonly count: number } | undefined {
    this.window = undefined;
    if (sampleSize <= 0 || total <= 0 || this.ranks.length === 0) return undefined;
    const positions: number[] = [];
    for (const rank of this.ranks) {
      const f = Math.min(1, rank / total);
      const center = f * sampleSize;
      const spread = 4 * Math.sqrt(sampleSize * f * (1 - f)) + 2;
      positions.push(Math.max(0, center - spread), Math.min(sampleSize - 1, center + spread));
    }
    // the bucket holding each sample position, counting down from the largest magnitudes
    const order = positions
      .map((position, index) => ({ position, index }))
      .sort((a, b) => a.position - b.position);
    const buckets = new Array<number>(positions.length);
    let above = 0;
    let next = 0;
    for (let bucket = 65535; bucket >= 0 && next < order.length; bucket--) {
      above += sample[bucket]!;
      while (next < order.length && above > order[next]!.position) buckets[order[next++]!.index] = bucket;
    }
    while (next < order.length) buckets[order[next++]!.index] = 0;
    const low = Math.min(...buckets);
    const count = Math.max(...buckets) - low + 1;
    if (count > maxBuckets) return undefined;
    this.window = { low, count };
    return this.window;
  }

  /**
   * Adds what pass 1 counted of the window: window.count × 65536 low-bit counters, then one counter
   * of the elements above the window (histLowRangeAbove's layout).
   */
  addWindow(counts: Uint32Array): void {
    if (this.windowCounts === undefined) this.windowCounts = new Uint32Array(counts);
    else for (let i = 0; i < counts.length; i++) this.windowCounts[i]! += counts[i]!;
  }

  /** True once pass 1's window held every wanted bucket: pass 2 has nothing left to count. */
  get lowCounted(): boolean {
    return this.windowUsed;
  }

  /** The window counted in pass 1, if any. */
  get countedWindow(): { readonly low: number; readonly count: number } | undefined {
    return this.window;
  }

  /** Pass 2's high-bit bucket per wanted rank (known after endHigh). */
  get lowBuckets(): readonly number[] {
    return this.buckets;
  }

  /** Adds a pass-1 histogram counted elsewhere (row workers). */
  addHigh(counts: Uint32Array): void {
    this.highCounted = true;
    for (let bucket = 0; bucket < 65536; bucket++) this.high[bucket]! += counts[bucket]!;
  }

  /** Adds a pass-2 histogram for wanted rank `rank` counted elsewhere. */
  addLow(rank: number, counts: Uint32Array): void {
    const low = this.low[rank]!;
    for (let index = 0; index < 65536; index++) low[index]! += counts[index]!;
  }

  /** The arena whose kernels count `values` (the first chunk's arena; a chunk elsewhere is counted in JS). */
  private arenaFor(values: Float32Array): MergeArena | undefined {
    const arena = arenaOf(values);
    if (arena === undefined || (this.arena !== undefined && arena !== this.arena)) return undefined;
    this.arena = arena;
    return arena;
  }

  results(): RankResult[] {
    if (this.arenaLow) {
      for (let r = 0; r < this.ranks.length; r++) {
        const low = this.low[r]!;
        const counted = this.arenaLow[r]!;
        for (let index = 0; index < 65536; index++) low[index]! += counted[index]!;
        this.arena!.returnHistogram(counted);
      }
      this.arenaLow = undefined;
    }
    return this.ranks.map((rank, r) => {
      const low = this.low[r]!;
      let greater = this.greaterAbove[r]!;
      let index = 65535;
      for (; index >= 0; index--) {
        const count = low[index]!;
        if (greater + count > rank) break;
        greater += count;
      }
      bitView[0] = ((this.buckets[r]! << 16) | index) >>> 0;
      return { value: floatView[0]!, greater };
    });
  }
}
