// HOMER prefill (alinlab/HOMER create_homer_prefix and _merge): chunks share a prefix and a suffix,
// leaves run the lower layers, each block ends by dropping the least significant context tokens
// from the hidden states AND from every earlier layer's KV (propagative refinement), and siblings
// merge depth-first so at most one finished chunk per level is alive. The result is a KV cache of at
// most `targetLength` tokens per layer whose position ids never exceed maxChunkLength - 1.
import type { Model } from '@meld/runtime';
import { ValidationError } from '@meld/tensor-core';
import { z } from 'zod';
import type { HomerCalibration } from './calibration';
import { ChunkKVCache } from './chunk-cache';
import { activationBytes, MemoryMeter } from './memory';
import { LastQueryLogitCollector, rowsToKeep, significance } from './reduction';
import { type HomerBlock, type HomerPlan, makeLeaf, planHomer } from './schedule';

export const homerOptionsSchema = z.object({
  /** Longest chunk incl. prefix and suffix (default: half the model's context, as the reference's max_pos / 2). */
  maxChunkLength: z.number().int().min(4).optional(),
  /** Tokens the final cache keeps (default: maxChunkLength). */
  targetLength: z.number().int().positive().optional(),
  /** Layers before any reduction (default: defaultWarmupLayers). */
  warmupLayers: z.number().int().min(0).optional(),
});

export type HomerProgressEvent = {
  readonly type: 'block-end';
  readonly height: number;
  readonly layers: readonly [number, number];
  readonly tokensIn: number;
  readonly tokensOut: number;
  /** Live bytes after the block (engine accounting). */
  readonly liveBytes: number;
};

export type HomerOptions = z.input<typeof homerOptionsSchema> & {
  /** Per-layer, per-distance bias (calibrateHomer); significance is the raw max logit without it. */
  readonly calibration?: HomerCalibration;
  readonly onProgress?: (event: HomerProgressEvent) => void;
};

export interface HomerInput {
  /** Instruction shared by every chunk (put BOS here). May be empty if the suffix is not. */
  readonly prefix: readonly number[];
  /** The long part. */
  readonly context: readonly number[];
  /** Question or tail to continue, shared by every chunk; non-empty. */
  readonly suffix: readonly number[];
}

export interface HomerResult {
  /** The merged cache: the same `keptTokens` tokens at every layer. Generation appends to it. */
  readonly cache: ChunkKVCache;
  /** Position ids of the kept tokens; the next token goes at lastPosition + 1. */
  readonly positions: Int32Array;
  readonly lastPosition: number;
  /** Logits of the input's last token: [vocabSize]. */
  readonly logits: Float32Array;
  readonly plan: HomerPlan;
  readonly inputTokens: number;
  readonly keptTokens: number;
  /** Peak of live hidden states + KV + forward buffers (engine accounting), in bytes. */
  readonly peakBytes: number;
  readonly warnings: readonly string[];
}

interface Chunk {
  hidden: Float32Array;
  positions: Int32Array;
  /** Significance of each row at the last layer that scored it. */
  scores: Float64Array;
  cache: ChunkKVCache;
}

export function homerPrefill(model: Model, input: HomerInput, options: HomerOptions = {}): HomerResult {
  const parsed = homerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid');
  }
  const config = model.config;
  const maxChunkLength = parsed.data.maxChunkLength ?? Math.floor(config.contextLength / 2);
  if (maxChunkLength > config.contextLength) {
    throw new ValidationError(
      'options.maxChunkLength',
      `${maxChunkLength} exceeds the context of ${config.contextLength}`,
    );
  }
  const calibration = options.calibration;
  const warnings: string[] = [];
  if (calibration && calibration.numLayers !== config.numLayers) {
    throw new ValidationError(
      'options.calibration',
      `made for ${calibration.numLayers} layers, model has ${config.numLayers}`,
    );
  }
  if (!calibration)
    warnings.push('no calibration: significance is the raw max logit (recency bias not removed)');
  const { prefix, context, suffix } = input;
  const plan = planHomer(
    {
      numLayers: config.numLayers,
      maxChunkLength,
      prefixLength: prefix.length,
      suffixLength: suffix.length,
      contextLength: context.length,
      ...(parsed.data.warmupLayers === undefined ? {} : { warmupLayers: parsed.data.warmupLayers }),
    },
    parsed.data.targetLength ?? maxChunkLength,
  );
  const hiddenSize = config.hiddenSize;
  const shape = { layers: config.numLayers, kvHeads: config.numKVHeads, headDim: config.headDim };
  const meter = new MemoryMeter();
  const track = (chunk: Chunk) =>
    meter.track(
      chunk,
      () =>
        chunk.hidden.byteLength + chunk.positions.byteLength + chunk.scores.byteLength + chunk.cache.bytes(),
    );

  const runBlock = (chunk: Chunk, block: HomerBlock, target: number): void => {
    const rows = chunk.positions.length;
    if (block.end > block.start) {
      const collector = new LastQueryLogitCollector(block.end - 1);
      model.runLayers(chunk.hidden, {
        start: block.start,
        end: block.end,
        positions: chunk.positions,
        cache: chunk.cache,
        observers: [collector],
      });
      meter.check(activationBytes(config, rows, rows, true));
      chunk.scores = significance(
        collector.maxLogits,
        collector.keyPositions,
        collector.lastPosition,
        block.end - 1,
        calibration,
      );
    }
    const drop = rows - target;
    if (drop > 0) {
      const keep = rowsToKeep(chunk.scores, prefix.length, suffix.length, drop);
      const hidden = new Float32Array(keep.length * hiddenSize);
      keep.forEach((row, i) => {
        hidden.set(chunk.hidden.subarray(row * hiddenSize, (row + 1) * hiddenSize), i * hiddenSize);
      });
      chunk.hidden = hidden;
      chunk.positions = Int32Array.from(keep, (row) => chunk.positions[row]!);
      chunk.scores = Float64Array.from(keep, (row) => chunk.scores[row]!);
      chunk.cache.keepRows(keep);
    }
    const liveBytes = meter.check();
    options.onProgress?.({
      type: 'block-end',
      height: block.height,
      layers: [block.start, block.end],
      tokensIn: rows,
      tokensOut: chunk.positions.length,
      liveBytes,
    });
  };

  const leafLength = (index: number): number => {
    const from = index * plan.effectiveChunkLength;
    const to = Math.min((index + 1) * plan.effectiveChunkLength, context.length);
    return prefix.length + Math.max(0, to - from) + suffix.length;
  };

  const process = (first: number, count: number, height: number, target: number): Chunk => {
    if (height === 0) {
      const leaf = makeLeaf(plan, prefix, context, suffix, first);
      const chunk: Chunk = {
        hidden: model.embed(leaf.tokens),
        positions: leaf.positions,
        scores: new Float64Array(leaf.positions.length),
        cache: new ChunkKVCache(shape),
      };
      track(chunk);
      runBlock(chunk, plan.blocks[0]!, target);
      return chunk;
    }
    const half = count / 2;
    // The reference's targets: each child to prefix + effMax/2 + suffix, unless the right subtree's
    // first leaf is shorter, which then keeps all its tokens and leaves the room to the left one.
    let leftTarget = plan.childTargetLength;
    let rightTarget = plan.childTargetLength;
    const rightFirst = leafLength(first + half);
    if (rightFirst < plan.childTargetLength) {
      rightTarget = rightFirst;
      leftTarget = maxChunkLength - (rightTarget - prefix.length - suffix.length);
    }
    const left = process(first, half, height - 1, leftTarget);
    const right = process(first + half, half, height - 1, rightTarget);
    const merged = mergeChunks(left, right, prefix.length, suffix.length, hiddenSize);
    track(merged);
    meter.check();
    meter.release(left);
    meter.release(right);
    runBlock(merged, plan.blocks[height]!, target);
    return merged;
  };

  const root = process(0, plan.leafCount, plan.height, plan.finalTargetLength);
  const rows = root.positions.length;
  const logits = model.logits(root.hidden, [rows - 1]);
  meter.check(activationBytes(config, 1, 1) + logits.byteLength);
  return {
    cache: root.cache,
    positions: root.positions,
    lastPosition: root.positions[rows - 1]!,
    logits,
    plan,
    inputTokens: prefix.length + context.length + suffix.length,
    keptTokens: rows,
    peakBytes: meter.peak(),
    warnings,
  };
}

/** Chunk.merge of the reference: prefix and suffix averaged, contexts concatenated (hidden states and KV). */
function mergeChunks(
  left: Chunk,
  right: Chunk,
  prefixLength: number,
  suffixLength: number,
  hiddenSize: number,
): Chunk {
  const leftRows = left.positions.length;
  const rightRows = right.positions.length;
  const leftContext = leftRows - prefixLength - suffixLength;
  const rightContext = rightRows - prefixLength - suffixLength;
  const rows = leftRows + rightContext;
  const hidden = new Float32Array(rows * hiddenSize);
  const positions = new Int32Array(rows);
  const scores = new Float64Array(rows);
  const average = (to: number, fromLeft: number, fromRight: number) => {
    for (let d = 0; d < hiddenSize; d++) {
      hidden[to * hiddenSize + d] =
        (left.hidden[fromLeft * hiddenSize + d]! + right.hidden[fromRight * hiddenSize + d]!) / 2;
    }
  };
  for (let i = 0; i < prefixLength; i++) {
    average(i, i, i);
    positions[i] = left.positions[i]!;
  }
  hidden.set(
    left.hidden.subarray(prefixLength * hiddenSize, (prefixLength + leftContext) * hiddenSize),
    prefixLength * hiddenSize,
  );
  positions.set(left.positions.subarray(prefixLength, prefixLength + leftContext), prefixLength);
  scores.set(left.scores.subarray(prefixLength, prefixLength + leftContext), prefixLength);
  const rightStart = prefixLength + leftContext;
  hidden.set(
    right.hidden.subarray(prefixLength * hiddenSize, (prefixLength + rightContext) * hiddenSize),
    rightStart * hiddenSize,
  );
  positions.set(right.positions.subarray(prefixLength, prefixLength + rightContext), rightStart);
  scores.set(right.scores.subarray(prefixLength, prefixLength + rightContext), rightStart);
  for (let i = 0; i < suffixLength; i++) {
    average(rows - suffixLength + i, leftRows - suffixLength + i, rightRows - suffixLength + i);
    positions[rows - suffixLength + i] = right.positions[rightRows - suffixLength + i]!;
  }
  return {
    hidden,
    positions,
    scores,
    cache: ChunkKVCache.merge(left.cache, right.cache, prefixLength, suffixLength),
  };
}
