// The engine's own accounting of memory: bytes of the hidden states and KV caches that are alive,
// plus the working buffers of the forward call being run (what runtime's Transformer allocates for
// `rows` queries over `length` slots). Used for HOMER and, with the same formula, for a plain prefill.
import type { ModelConfig } from '@meld/runtime';

/** Working buffers of one runLayers call over `rows` new tokens attending to `length` slots. */
export function activationBytes(
  config: ModelConfig,
  rows: number,
  length: number,
  withLogits = false,
): number {
  const { hiddenSize, numHeads, numKVHeads, headDim, intermediateSize } = config;
  const perRow = 2 * hiddenSize + 2 * numHeads * headDim + 2 * numKVHeads * headDim + 2 * intermediateSize;
  const attention = rows * length * (withLogits ? 2 : 1);
  return 4 * (rows * perRow + attention);
}

/** KV bytes per token as ChunkKVCache stores them (keys, values, one position id per layer). */
export function chunkKVBytesPerToken(config: ModelConfig): number {
  return config.numLayers * (2 * config.numKVHeads * config.headDim * 4 + 4);
}

/** Peak of a plain (one call, full cache) prefill of `tokens` tokens, by the same accounting. */
export function plainPrefillBytes(config: ModelConfig, tokens: number): number {
  return (
    tokens * config.hiddenSize * 4 +
    tokens * chunkKVBytesPerToken(config) +
    activationBytes(config, tokens, tokens)
  );
}

export class MemoryMeter {
  private readonly live = new Map<object, () => number>();
  private peakValue = 0;

  /** Counts `owner` as alive; `bytes` is read at every check. */
  track(owner: object, bytes: () => number): void {
    this.live.set(owner, bytes);
  }

  release(owner: object): void {
    this.live.delete(owner);
  }

  /** Live bytes now, plus `transient` working bytes; updates the peak. */
  check(transient = 0): number {
    let total = transient;
    for (const bytes of this.live.values()) total += bytes();
    if (total > this.peakValue) this.peakValue = total;
    return total;
  }

  peak(): number {
    return this.peakValue;
  }
}
