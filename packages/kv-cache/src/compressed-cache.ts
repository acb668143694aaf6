// A cache under a policy and a budget. It stores like FullKVCache (plus the statistics the policy
// reads) and compresses: the prompt once prefill is over, and optionally every `compressEvery`
// decode steps. With `autoCompress` (default) it needs nothing from the runtime beyond KVCacheV1:
// the first single-token append of a layer marks the end of prefill, and every later single-token
// append is a decode step. Compression during decoding makes room before the append, so with
// compressEvery = n a head never holds more than the budget.
import { seededRandom, ValidationError } from '@meld/tensor-core';
import { budgetSlots, type KVBudget } from './budget';
import type { KVCacheShape, KVCacheV1, KVHeadView } from './contract';
import { FullKVCache } from './full-cache';
import type { KVHeadStore } from './head-store';
import type { KVCompressorV1, KVPolicyV1 } from './policy';

export interface CompressedKVCacheOptions {
  readonly policy: KVPolicyV1;
  /** Parameters already validated by `policy.parameters`. */
  readonly parameters: unknown;
  readonly budget: KVBudget;
  /** Per-layer budgets (overrides `budget` for the layers listed). */
  readonly layerBudgets?: readonly KVBudget[];
  /** Compress during decoding every n steps (0 = only the prompt). */
  readonly compressEvery?: number;
  /** Compress on the first single-token append and every n decode steps without being called (default true). */
  readonly autoCompress?: boolean;
  /** Seed for stochastic policies (default 0). */
  readonly seed?: number;
  readonly blockSlots?: number;
}

export interface KVCompressionStats {
  /** Layer compressions run. */
  readonly compressions: number;
  /** Time spent compressing, milliseconds. */
  readonly milliseconds: number;
  readonly decodeSteps: number;
}

export class CompressedKVCache implements KVCacheV1 {
  readonly specificationVersion = 'v1' as const;
  readonly shape: KVCacheShape;
  readonly policy: KVPolicyV1;
  readonly budget: KVBudget;
  private readonly inner: FullKVCache;
  private readonly compressor: KVCompressorV1;
  private readonly layerBudgets: readonly KVBudget[];
  private readonly compressEvery: number;
  private readonly autoCompress: boolean;
  private readonly random: () => number;
  private readonly seen: Int32Array;
  private readonly promptDone: Uint8Array;
  private readonly decodeSteps: Int32Array;
  private compressions = 0;
  private milliseconds = 0;

  constructor(shape: KVCacheShape, options: CompressedKVCacheOptions) {
    const compressEvery = options.compressEvery ?? 0;
    if (!Number.isInteger(compressEvery) || compressEvery < 0) {
      throw new ValidationError('compressEvery', `must be an integer >= 0, got ${String(compressEvery)}`);
    }
    if (options.layerBudgets !== undefined && options.layerBudgets.length !== shape.layers) {
      throw new ValidationError(
        'layerBudgets',
        `needs one budget per layer (${shape.layers}), got ${options.layerBudgets.length}`,
      );
    }
    this.policy = options.policy;
    this.budget = options.budget;
    this.layerBudgets = options.layerBudgets ?? Array.from({ length: shape.layers }, () => options.budget);
    this.compressEvery = compressEvery;
    this.autoCompress = options.autoCompress ?? true;
    this.random = seededRandom(options.seed ?? 0);
    const parameters = options.policy.parameters.parse(options.parameters);
    this.compressor = options.policy.create(parameters);
    this.inner = new FullKVCache(shape, {
      statistics: options.policy.statistics(parameters),
      ...(options.blockSlots === undefined ? {} : { blockSlots: options.blockSlots }),
    });
    this.shape = this.inner.shape;
    this.seen = new Int32Array(shape.layers);
    this.promptDone = new Uint8Array(shape.layers);
    this.decodeSteps = new Int32Array(shape.layers);
  }

  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>): void {
    const count = positions.length;
    if (
      this.autoCompress &&
      count === 1 &&
      this.seen[layer] !== undefined &&
      (this.seen[layer] as number) > 0
    ) {
      const step = (this.decodeSteps[layer] as number) + 1;
      this.decodeSteps[layer] = step;
      if (this.compressEvery > 0 && (step - 1) % this.compressEvery === 0) {
        // make room: after this append and the n-1 appends until the next compression, stay within budget
        const target =
          this.target(layer, (this.seen[layer] as number) + count) - count - (this.compressEvery - 1);
        this.compressLayer(layer, Math.max(1, target), this.promptDone[layer] ? 'decode' : 'prefill');
        this.promptDone[layer] = 1;
      } else if (!this.promptDone[layer]) {
        this.compressLayer(layer, this.target(layer, this.seen[layer] as number), 'prefill');
        this.promptDone[layer] = 1;
      }
    }
    this.inner.append(layer, keys, values, positions);
    this.seen[layer] = (this.seen[layer] as number) + count;
  }

  /** Compress every layer to its budget now (after prefill, or whenever the caller decides). */
  compress(): void {
    for (let layer = 0; layer < this.shape.layers; layer++) {
      this.compressLayer(
        layer,
        this.target(layer, this.seen[layer] as number),
        this.promptDone[layer] ? 'decode' : 'prefill',
      );
      this.promptDone[layer] = 1;
    }
  }

  /** Compress if decode step `step` (1-based) is due under `compressEvery`; returns whether it ran. */
  maybeCompress(step: number): boolean {
    if (this.compressEvery <= 0 || step % this.compressEvery !== 0) return false;
    this.compress();
    return true;
  }

  /** Slots one head of `layer` may keep when the layer has seen `seen` tokens. */
  target(layer: number, seen: number): number {
    const budget = this.layerBudgets[layer] ?? this.budget;
    return budgetSlots(budget, Math.max(1, seen));
  }

  /** Tokens appended to `layer` since creation or clear() (kept or not). */
  tokensSeen(layer: number): number {
    return this.seen[layer] ?? 0;
  }

  stats(): KVCompressionStats {
    let steps = 0;
    for (const s of this.decodeSteps) steps = Math.max(steps, s);
    return { compressions: this.compressions, milliseconds: this.milliseconds, decodeSteps: steps };
  }

  head(layer: number, kvHead: number): KVHeadView {
    return this.inner.head(layer, kvHead);
  }

  /** The mutable store (for tests and tools of this package). */
  store(layer: number, kvHead: number): KVHeadStore {
    return this.inner.store(layer, kvHead);
  }

  observeAttention(
    layer: number,
    kvHead: number,
    queryHead: number,
    weights: Float32Array,
    queries: number,
  ): void {
    this.inner.observeAttention(layer, kvHead, queryHead, weights, queries);
  }

  length(layer: number): number {
    return this.inner.length(layer);
  }

  slots(): number {
    return this.inner.slots();
  }

  bytes(): number {
    return this.inner.bytes();
  }

  bytesPerSlot(): number {
    return this.inner.bytesPerSlot();
  }

  peakBytes(): number {
    return this.inner.peakBytes();
  }

  resetPeak(): void {
    this.inner.resetPeak();
  }

  clear(): void {
    this.inner.clear();
    this.seen.fill(0);
    this.promptDone.fill(0);
    this.decodeSteps.fill(0);
  }

  private compressLayer(layer: number, target: number, phase: 'prefill' | 'decode'): void {
    const started = performance.now();
    const stores: KVHeadStore[] = [];
    for (let h = 0; h < this.shape.kvHeads; h++) stores.push(this.inner.store(layer, h));
    this.compressor.compressLayer({ layer, stores, target, phase, random: this.random });
    this.milliseconds += performance.now() - started;
    this.compressions++;
  }
}
