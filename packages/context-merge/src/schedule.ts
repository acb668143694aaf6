// HOMER's plan for one input: how many chunks, how long each is, and which layers each level of the
// merge tree runs. Formulas follow alinlab/HOMER src/homer/patch_llama.py::create_homer_prefix and
// src/homer/chunk.py::make_chunks; the rule for models with fewer layers than levels is ours (README).
import { ValidationError } from '@meld/tensor-core';

export interface HomerPlanInput {
  /** Decoder layers of the model (L). */
  readonly numLayers: number;
  /** Longest chunk, prefix and suffix included (the reference's max_chunk_len). */
  readonly maxChunkLength: number;
  readonly prefixLength: number;
  readonly suffixLength: number;
  /** Context tokens between prefix and suffix. */
  readonly contextLength: number;
  /** Layers every leaf runs before any reduction (default: see defaultWarmupLayers). */
  readonly warmupLayers?: number;
}

/** One block of layers of the merge tree: leaves are height 0, the root is height `height`. */
export interface HomerBlock {
  readonly height: number;
  /** First layer (inclusive). */
  readonly start: number;
  /** Layer to stop before; start === end means the level merges without running a layer of its own. */
  readonly end: number;
}

export interface HomerPlan {
  readonly warmupLayers: number;
  /** Chunks the context needs: ceil(context / effective max chunk length). */
  readonly chunkCount: number;
  /** Leaves of the tree: chunkCount rounded up to a power of two; the context is spread over all of them. */
  readonly leafCount: number;
  /** log2(leafCount): merge levels above the leaves. */
  readonly height: number;
  /** Context tokens a chunk may hold: maxChunkLength - prefix - suffix. */
  readonly effectiveMaxChunkLength: number;
  /** Context tokens per chunk: ceil(context / leafCount). */
  readonly effectiveChunkLength: number;
  /** The reference's layers_per_chunk and layers_leftover (0 / 0 on the few-layer rule). */
  readonly layersPerLevel: number;
  readonly layersLeftover: number;
  /** blocks[h] is the block of height h. */
  readonly blocks: readonly HomerBlock[];
  /** Final cache length: min(targetLength, prefix + context + suffix). */
  readonly finalTargetLength: number;
  /** Target of a full child subtree: prefix + floor(effectiveMax / 2) + suffix. */
  readonly childTargetLength: number;
}

/**
 * Warm-up layers when none are given: the reference's 12 of 32 layers scaled to the model
 * (floor(12 L / 32)), then cut to at most 1 when the merge levels (height + 1 blocks) would not each get
 * a layer of their own.
 */
export function defaultWarmupLayers(numLayers: number, height: number): number {
  const scaled = Math.floor((12 * numLayers) / 32);
  if (numLayers - scaled >= height + 1) return scaled;
  return Math.min(scaled, 1, numLayers - 1);
}

export function planHomer(input: HomerPlanInput, targetLength = input.maxChunkLength): HomerPlan {
  const { numLayers, maxChunkLength, prefixLength, suffixLength, contextLength } = input;
  if (suffixLength < 1) throw new ValidationError('suffix', 'HOMER needs a non-empty suffix');
  if (contextLength < 1) throw new ValidationError('context', 'needs at least one context token');
  const effectiveMaxChunkLength = maxChunkLength - prefixLength - suffixLength;
  if (effectiveMaxChunkLength < 2) {
    throw new ValidationError(
      'maxChunkLength',
      `${maxChunkLength} leaves ${effectiveMaxChunkLength} context tokens per chunk after a prefix of ${prefixLength} and a suffix of ${suffixLength}`,
    );
  }
  const chunkCount = Math.ceil(contextLength / effectiveMaxChunkLength);
  const height = Math.ceil(Math.log2(chunkCount));
  const leafCount = 2 ** height;
  const effectiveChunkLength = Math.ceil(contextLength / leafCount);
  const warmupLayers = input.warmupLayers ?? defaultWarmupLayers(numLayers, height);
  if (!(Number.isInteger(warmupLayers) && warmupLayers >= 0 && warmupLayers < numLayers)) {
    throw new ValidationError('warmupLayers', `must be an integer in [0, ${numLayers}), got ${warmupLayers}`);
  }
  const merging = numLayers - warmupLayers;
  const blocks: HomerBlock[] = [];
  let layersPerLevel = 0;
  let layersLeftover = 0;
  if (merging >= height + 1) {
    // The reference: leaves run warmup + leftover + per layers, each level `per` more.
    layersPerLevel = Math.floor(merging / (height + 1));
    layersLeftover = merging - layersPerLevel * (height + 1);
    blocks.push({ height: 0, start: 0, end: warmupLayers + layersLeftover + layersPerLevel });
    for (let h = 1; h <= height; h++) {
      const start = warmupLayers + layersLeftover + layersPerLevel * h;
      blocks.push({ height: h, start, end: start + layersPerLevel });
    }
  } else {
    // More levels than layers: leaves run warmup + 1 layers; the other merging - 1 layers are spread
    // over the levels, level h ending at warmup + 1 + floor(h (merging - 1) / height). Levels that
    // get no layer merge and reduce on the significance their tokens got at the last layer run.
    blocks.push({ height: 0, start: 0, end: warmupLayers + 1 });
    for (let h = 1; h <= height; h++) {
      const start = blocks[h - 1]!.end;
      blocks.push({ height: h, start, end: warmupLayers + 1 + Math.floor((h * (merging - 1)) / height) });
      if (blocks[h]!.end < start) throw new Error('unreachable: blocks out of order');
    }
  }
  const total = prefixLength + contextLength + suffixLength;
  return {
    warmupLayers,
    chunkCount,
    leafCount,
    height,
    effectiveMaxChunkLength,
    effectiveChunkLength,
    layersPerLevel,
    layersLeftover,
    blocks,
    finalTargetLength: Math.min(targetLength, total),
    childTargetLength: prefixLength + Math.floor(effectiveMaxChunkLength / 2) + suffixLength,
  };
}

/** A leaf before it runs: its tokens, their position ids and which of them may be reduced. */
export interface LeafInput {
  readonly index: number;
  readonly tokens: Int32Array;
  readonly positions: Int32Array;
  readonly prefixLength: number;
  readonly suffixLength: number;
}

/**
 * Leaf `index` (< plan.leafCount) of the reference's make_chunks: prefix + context slice + suffix;
 * position ids 0..len-1, except that with more than one leaf the suffix sits at
 * prefix + effectiveChunkLength + [0, suffix) (so a short last chunk's suffix lines up with the others).
 */
export function makeLeaf(
  plan: HomerPlan,
  prefix: ArrayLike<number>,
  context: ArrayLike<number>,
  suffix: ArrayLike<number>,
  index: number,
): LeafInput {
  const from = index * plan.effectiveChunkLength;
  const to = Math.min((index + 1) * plan.effectiveChunkLength, context.length);
  const sliceLength = Math.max(0, to - from);
  const length = prefix.length + sliceLength + suffix.length;
  const tokens = new Int32Array(length);
  tokens.set(Array.from(prefix), 0);
  for (let i = 0; i < sliceLength; i++) tokens[prefix.length + i] = context[from + i]!;
  tokens.set(Array.from(suffix), prefix.length + sliceLength);
  const positions = Int32Array.from({ length }, (_, i) => i);
  if (plan.leafCount > 1) {
    const offset = prefix.length + plan.effectiveChunkLength;
    for (let i = 0; i < suffix.length; i++) positions[length - suffix.length + i] = offset + i;
  }
  return { index, tokens, positions, prefixLength: prefix.length, suffixLength: suffix.length };
}
