// One (layer, KV head) of a cache: growable slot arrays plus the per-slot statistics a policy asked for.
// Ownership: the store owns its buffers; views handed out by `head()` alias them and are valid until
// the next write (append, retain, merge) to this store, because growing reallocates.
import type { KVHeadView } from './contract';

/** Which per-slot statistics a cache keeps. Each costs 4 bytes per live slot. */
export interface KVStatisticsOptions {
  /** Attention each slot received, summed over every observed query row and query head (H2O, CaM, KVMerger). */
  readonly accumulatedAttention?: boolean;
  /** Attention each slot received from the most recent observed query row, summed over query heads (TOVA, CaM). */
  readonly lastAttention?: boolean;
  /**
   * Attention summed over the last `observationWindow` query rows of each observed block
   * (SnapKV's observation window). 0 or absent keeps no window statistic.
   */
  readonly observationWindow?: number;
  /** How many tokens each slot represents (1 + tokens merged into it). */
  readonly mergeCounts?: boolean;
}

export const DEFAULT_BLOCK_SLOTS = 64;

export class KVHeadStore implements KVHeadView {
  length = 0;
  keys: Float32Array;
  values: Float32Array;
  positions: Int32Array;
  /** Present only when the cache keeps the statistic. */
  accumulatedAttention: Float32Array | undefined;
  lastAttention: Float32Array | undefined;
  windowAttention: Float32Array | undefined;
  mergeCounts: Float32Array | undefined;
  /** Write stamp of the row held in lastAttention / windowAttention, so a new step resets them. */
  private lastStamp = -1;
  private windowStamp = -1;
  private capacity = 0;

  constructor(
    readonly headDim: number,
    readonly statistics: KVStatisticsOptions,
    private readonly blockSlots: number = DEFAULT_BLOCK_SLOTS,
  ) {
    this.keys = new Float32Array(0);
    this.values = new Float32Array(0);
    this.positions = new Int32Array(0);
    if (statistics.accumulatedAttention) this.accumulatedAttention = new Float32Array(0);
    if (statistics.lastAttention) this.lastAttention = new Float32Array(0);
    if ((statistics.observationWindow ?? 0) > 0) this.windowAttention = new Float32Array(0);
    if (statistics.mergeCounts) this.mergeCounts = new Float32Array(0);
  }

  /** Bytes one live slot costs: key + value (f32) + position (i32) + 4 per statistic. */
  static slotBytes(headDim: number, statistics: KVStatisticsOptions): number {
    let perSlot = 2 * headDim * 4 + 4;
    if (statistics.accumulatedAttention) perSlot += 4;
    if (statistics.lastAttention) perSlot += 4;
    if ((statistics.observationWindow ?? 0) > 0) perSlot += 4;
    if (statistics.mergeCounts) perSlot += 4;
    return perSlot;
  }

  /** Make room for `extra` more slots, growing in whole blocks. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.capacity) return;
    const blocks = Math.ceil(needed / this.blockSlots);
    const capacity = blocks * this.blockSlots;
    const d = this.headDim;
    this.keys = grow(this.keys, capacity * d, this.length * d);
    this.values = grow(this.values, capacity * d, this.length * d);
    const positions = new Int32Array(capacity);
    positions.set(this.positions.subarray(0, this.length));
    this.positions = positions;
    if (this.accumulatedAttention)
      this.accumulatedAttention = grow(this.accumulatedAttention, capacity, this.length);
    if (this.lastAttention) this.lastAttention = grow(this.lastAttention, capacity, this.length);
    if (this.windowAttention) this.windowAttention = grow(this.windowAttention, capacity, this.length);
    if (this.mergeCounts) this.mergeCounts = grow(this.mergeCounts, capacity, this.length);
    this.capacity = capacity;
  }

  /**
   * Append `count` tokens of this head from token-major projections:
   * source rows are `rowStride` floats apart and this head starts at `offset` within each row.
   */
  appendStrided(
    keys: Float32Array,
    values: Float32Array,
    positions: ArrayLike<number>,
    count: number,
    rowStride: number,
    offset: number,
  ): void {
    this.reserve(count);
    const d = this.headDim;
    let target = this.length * d;
    for (let t = 0; t < count; t++) {
      const source = t * rowStride + offset;
      this.keys.set(keys.subarray(source, source + d), target);
      this.values.set(values.subarray(source, source + d), target);
      this.positions[this.length + t] = positions[t] as number;
      target += d;
    }
    const start = this.length;
    this.length += count;
    // New slots start with clean statistics (the buffers may hold stale rows from a retain()).
    this.accumulatedAttention?.fill(0, start, this.length);
    this.lastAttention?.fill(0, start, this.length);
    this.windowAttention?.fill(0, start, this.length);
    this.mergeCounts?.fill(1, start, this.length);
  }

  /**
   * Record softmax weights [queries, length] of one query head. `stamp` identifies the write
   * (append) the rows belong to, so per-step statistics restart when a new step begins.
   */
  observe(weights: Float32Array, queries: number, stamp: number): void {
    const n = this.length;
    if (weights.length < queries * n) return;
    const accumulated = this.accumulatedAttention;
    if (accumulated) {
      for (let q = 0; q < queries; q++) {
        const row = q * n;
        for (let i = 0; i < n; i++)
          accumulated[i] = (accumulated[i] as number) + (weights[row + i] as number);
      }
    }
    const last = this.lastAttention;
    if (last && queries > 0) {
      if (this.lastStamp !== stamp) {
        last.fill(0, 0, n);
        this.lastStamp = stamp;
      }
      const row = (queries - 1) * n;
      for (let i = 0; i < n; i++) last[i] = (last[i] as number) + (weights[row + i] as number);
    }
    const window = this.windowAttention;
    if (window && queries > 0) {
      if (this.windowStamp !== stamp) {
        window.fill(0, 0, n);
        this.windowStamp = stamp;
      }
      const rows = Math.min(queries, this.statistics.observationWindow ?? 0);
      for (let q = queries - rows; q < queries; q++) {
        const row = q * n;
        for (let i = 0; i < n; i++) window[i] = (window[i] as number) + (weights[row + i] as number);
      }
    }
  }

  /** Keep only the slots at `indices` (strictly increasing), compacting in place, one copy per run. */
  retain(indices: ArrayLike<number>): void {
    const d = this.headDim;
    const kept = indices.length;
    let j = 0;
    while (j < kept) {
      // a run of consecutive source slots [from, from + run) lands at [j, j + run)
      const from = indices[j] as number;
      let run = 1;
      while (j + run < kept && (indices[j + run] as number) === from + run) run++;
      if (from !== j) {
        this.keys.copyWithin(j * d, from * d, (from + run) * d);
        this.values.copyWithin(j * d, from * d, (from + run) * d);
        this.positions.copyWithin(j, from, from + run);
        this.accumulatedAttention?.copyWithin(j, from, from + run);
        this.lastAttention?.copyWithin(j, from, from + run);
        this.windowAttention?.copyWithin(j, from, from + run);
        this.mergeCounts?.copyWithin(j, from, from + run);
      }
      j += run;
    }
    this.length = kept;
  }

  /** Key of slot i (a view). */
  key(i: number): Float32Array {
    return this.keys.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  /** Value of slot i (a view). */
  value(i: number): Float32Array {
    return this.values.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  clear(): void {
    this.length = 0;
    this.lastStamp = -1;
    this.windowStamp = -1;
  }
}

function grow(array: Float32Array, capacity: number, live: number): Float32Array {
  const next = new Float32Array(capacity);
  next.set(array.subarray(0, live));
  return next;
}
