// A loaded decoder model: config, tokenizer, weights, and everything one does with them.
import { createFullCache, type KVCacheV1 } from '@meld/kv-cache';
import { Tensor, ValidationError } from '@meld/tensor-core';
import type { ModelConfig } from './config';
import type { AttentionObserverV1 } from './engine/attention-observer';
import type { ActiveAdapter } from './engine/lora';
import { type RunLayersOptions, Transformer } from './engine/transformer';
import { allLinears, buildTransformerWeights, type TensorSource } from './engine/weights';
import {
  type FinishReason,
  type GenerateOptions,
  type GenerationEvent,
  generateTokens,
} from './generation/generate';
import type { Tokenizer } from './tokenizer/tokenizer';

export type ModelFormat = 'llama2c' | 'gguf' | 'hf';

export interface ForwardOptions {
  /** Cache to append to (a fresh full cache when omitted). */
  readonly cache?: KVCacheV1;
  /** Position id of the first token (default: the cache's current length, else 0). */
  readonly startPosition?: number;
  /** Explicit position ids, one per token (overrides startPosition). */
  readonly positions?: ArrayLike<number>;
  /** Which rows get logits: the last token (default) or all. */
  readonly logits?: 'last' | 'all';
  readonly observers?: readonly AttentionObserverV1[];
  readonly adapters?: readonly ActiveAdapter[];
}

export interface GenerationResult {
  readonly text: string;
  readonly tokens: number[];
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface LogLikelihoodResult {
  /** log p(tokens[i] | tokens[<i]) for i = 1..n-1 (natural log). */
  readonly tokenLogProbs: Float64Array;
  readonly sum: number;
  readonly count: number;
}

export class Model {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly format: ModelFormat;
  /** Canonical HF-named tensors as loaded (converters and merges read them). */
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly transformer: Transformer;
  /** Where it came from (path or hf: id). */
  readonly source: string;
  readonly warnings: readonly string[];

  constructor(init: {
    config: ModelConfig;
    tokenizer: Tokenizer;
    format: ModelFormat;
    /** A Map, or a lazy source read once per tensor (loaders pass one so peak memory stays low). */
    tensors: TensorSource;
    source: string;
    warnings?: readonly string[];
  }) {
    this.config = init.config;
    this.tokenizer = init.tokenizer;
    this.format = init.format;
    this.source = init.source;
    this.warnings = init.warnings ?? [];
    const loaded = new Map<string, Tensor>();
    const weights = buildTransformerWeights(init.config, init.tensors, init.source, loaded);
    this.transformer = new Transformer(init.config, weights);
    // The canonical map points at the engine's copies of the linears (f32 in the SIMD arena, q8_0 in
    // the kernel's memory), so the loaded buffers can be collected.
    const linears = new Map(allLinears(weights).map((linear) => [linear.name, linear]));
    const tensors = new Map<string, Tensor>();
    for (const name of init.tensors.keys()) {
      const linear = linears.get(name);
      const shape = linear ? [linear.outFeatures, linear.inFeatures] : [];
      if (linear?.dtype === 'f32') tensors.set(name, Tensor.fromF32(linear.data as Float32Array, shape));
      else if (linear?.q8) tensors.set(name, Tensor.fromBytes('q8_0', shape, linear.data as Uint8Array));
      else {
        const tensor = loaded.get(name) ?? init.tensors.get(name);
        if (tensor) tensors.set(name, tensor);
      }
    }
    this.tensors = tensors;
  }

  /** An empty full (uncompressed) KV cache shaped for this model. */
  createCache(): KVCacheV1 {
    return createFullCache({
      layers: this.config.numLayers,
      kvHeads: this.config.numKVHeads,
      headDim: this.config.headDim,
    });
  }

  /** Prompt tokens for a text (BOS prepended when the tokenizer does so by default). */
  encode(text: string, options?: { addBos?: boolean }): number[] {
    return this.tokenizer.encode(text, options);
  }

  /** Token embeddings [T, hiddenSize]. */
  embed(tokens: ArrayLike<number>): Float32Array {
    return this.transformer.embed(tokens);
  }

  /** Runs layers [start, end) on hidden states [T, hiddenSize] in place; returns them. */
  runLayers(hidden: Float32Array, options: RunLayersOptions): Float32Array {
    return this.transformer.runLayers(hidden, options);
  }

  /** Final norm + LM head on chosen rows of hidden states: [rows.length, vocabSize]. */
  logits(hidden: Float32Array, rows: readonly number[], adapters?: readonly ActiveAdapter[]): Float32Array {
    return this.transformer.logits(hidden, rows, adapters);
  }

  /** One batched pass over `tokens`: logits of the last token ([vocab]) or of all ([T, vocab]). */
  forward(tokens: ArrayLike<number>, options: ForwardOptions = {}): Float32Array {
    const cache = options.cache ?? this.createCache();
    const start = options.startPosition ?? (options.cache ? nextPosition(cache) : 0);
    const positions = options.positions ?? Int32Array.from({ length: tokens.length }, (_, i) => start + i);
    if (positions.length !== tokens.length)
      throw new ValidationError('positions', `${positions.length} positions for ${tokens.length} tokens`);
    const adapters = options.adapters ?? [];
    if (tokens.length === 1) {
      // One token (a decoding step): the transformer's allocation-free path, same arithmetic as below.
      // Its logits buffer is reused by the next step, so the caller gets a copy it owns.
      return this.transformer
        .decodeStep(tokens[0]!, positions[0]!, {
          cache,
          adapters,
          ...(options.observers ? { observers: options.observers } : {}),
        })
        .slice();
    }
    const hidden = this.embed(tokens);
    this.runLayers(hidden, {
      start: 0,
      end: this.config.numLayers,
      positions,
      cache,
      adapters,
      ...(options.observers ? { observers: options.observers } : {}),
    });
    const rows =
      options.logits === 'all' ? Array.from({ length: tokens.length }, (_, i) => i) : [tokens.length - 1];
    return this.logits(hidden, rows, adapters);
  }

  /** Streams generated tokens. A string prompt is encoded (with BOS); token arrays are used as given. */
  generate(
    prompt: string | readonly number[],
    options: GenerateOptions = {},
  ): AsyncGenerator<GenerationEvent> {
    const tokens = typeof prompt === 'string' ? this.encode(prompt) : prompt;
    return generateTokens(
      {
        config: this.config,
        transformer: this.transformer,
        tokenizer: this.tokenizer,
        createCache: () => this.createCache(),
      },
      tokens,
      options,
    );
  }

  /** Runs generate() to the end and collects the text. */
  async generateText(
    prompt: string | readonly number[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult> {
    let text = '';
    const tokens: number[] = [];
    for await (const event of this.generate(prompt, options)) {
      text += event.text;
      if (event.type === 'token') tokens.push(event.token);
      else
        return {
          text,
          tokens,
          finishReason: event.finishReason,
          promptTokens: event.promptTokens,
          completionTokens: event.completionTokens,
        };
    }
    throw new Error('generation ended without a finish event');
  }

  /** Log-probabilities of each token given the ones before it, in one pass (tokens must fit the context). */
  logLikelihood(
    tokens: readonly number[],
    options: { adapters?: readonly ActiveAdapter[]; from?: number } = {},
  ): LogLikelihoodResult {
    if (tokens.length < 2) throw new ValidationError('tokens', 'needs at least two tokens');
    if (tokens.length > this.config.contextLength) {
      throw new ValidationError(
        'tokens',
        `${tokens.length} tokens exceed the context of ${this.config.contextLength}`,
      );
    }
    const logits = this.forward(tokens, {
      logits: 'all',
      ...(options.adapters ? { adapters: options.adapters } : {}),
    });
    const vocab = this.config.vocabSize;
    const from = Math.max(1, options.from ?? 1);
    const out = new Float64Array(tokens.length - from);
    let sum = 0;
    for (let i = from; i < tokens.length; i++) {
      const row = (i - 1) * vocab;
      let max = Number.NEGATIVE_INFINITY;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[row + v]!);
      let total = 0;
      for (let v = 0; v < vocab; v++) total += Math.exp(logits[row + v]! - max);
      const logProb = logits[row + tokens[i]!]! - max - Math.log(total);
      out[i - from] = logProb;
      sum += logProb;
    }
    return { tokenLogProbs: out, sum, count: out.length };
  }
}

/**
 * The position after the newest token a cache holds. Not `length`: a compressed cache (evicted or merged
 * slots) holds fewer slots than positions it has seen, and positions are kept per slot.
 */
function nextPosition(cache: KVCacheV1): number {
  let newest = -1;
  for (let kvHead = 0; kvHead < cache.shape.kvHeads; kvHead++) {
    const view = cache.head(0, kvHead);
    for (let i = 0; i < view.length; i++) if (view.positions[i]! > newest) newest = view.positions[i]!;
  }
  return newest + 1;
}
