// ServeEngineV1 over @meld/runtime: tokenizer, chat template, one decode step per `next()` with the
// runtime's own forward pass and sampler, and a KV cache per sequence from @meld/kv-cache's policies.

import type { HomerCalibration } from '@meld/context-merge';
import { type KVCacheV1, kvPolicyNames, resolveKVOptions } from '@meld/kv-cache';
import { HuggingFaceTokenizer, LocalLanguageModel, type Model } from '@meld/runtime';
import type {
  ChatTurn,
  EngineSequence,
  KVCacheChoice,
  SamplingOptions,
  ServeEngineV1,
  TokenDecoder,
} from './engine';
import { HomerLongContext } from './homer-long-context';
import { RuntimeSequence } from './runtime-sequence';

export interface RuntimeEngineOptions {
  /** The policy used when a request names none (default: full cache). */
  defaultKVCache?: KVCacheChoice;
  /** Compress compressed caches every n decode steps (0 = the prompt only). */
  compressEvery: number;
  /** HOMER's per-layer, per-distance bias for meld.long_context (without it: raw max logit). */
  homerCalibration?: HomerCalibration;
}

export class RuntimeEngine implements ServeEngineV1 {
  readonly specificationVersion = 'v1' as const;
  readonly contextLength: number;
  readonly chatTemplate: 'model' | 'plain';
  readonly kvPolicies: readonly string[] = kvPolicyNames;
  readonly vocabularySize: number;
  readonly embeddingSize: number;
  readonly model: Model;
  readonly defaultKVCache?: KVCacheChoice;
  readonly longContext: HomerLongContext;
  private readonly options: RuntimeEngineOptions;
  /** runtime's LanguageModelV1, used for its chat-template rendering. */
  private readonly chat: LocalLanguageModel;

  constructor(model: Model, options: RuntimeEngineOptions) {
    this.model = model;
    this.options = options;
    this.contextLength = model.config.contextLength;
    this.vocabularySize = model.config.vocabSize;
    this.embeddingSize = model.config.hiddenSize;
    this.chat = new LocalLanguageModel(model);
    this.longContext = new HomerLongContext(
      model,
      (choice) => this.createCache(choice),
      options.homerCalibration,
    );
    const tokenizer = model.tokenizer;
    this.chatTemplate =
      tokenizer instanceof HuggingFaceTokenizer && tokenizer.chatTemplate ? 'model' : 'plain';
    if (options.defaultKVCache) {
      this.validateKVCache(options.defaultKVCache);
      this.defaultKVCache = options.defaultKVCache;
    }
  }

  tokenize(text: string, options: { addSpecialTokens: boolean }): number[] {
    return this.model.encode(text, { addBos: options.addSpecialTokens });
  }

  detokenize(tokens: readonly number[]): string {
    const bos = this.model.config.bosTokenId;
    const eos = new Set(this.model.config.eosTokenIds);
    return this.model.tokenizer.decode(tokens.filter((token) => token !== bos && !eos.has(token)));
  }

  createDecoder(previous: number | undefined): TokenDecoder {
    return this.model.tokenizer.createDecoder(previous);
  }

  tokenPiece(token: number): string {
    return this.model.tokenizer.piece(token).replaceAll('\u2581', ' ');
  }

  encodeChat(messages: readonly ChatTurn[]): number[] {
    return this.chat.promptTokens({ messages: [...messages] });
  }

  validateKVCache(choice: KVCacheChoice): void {
    this.createCache(choice);
  }

  startSequence(
    prompt: readonly number[],
    sampling: SamplingOptions,
    kvCache?: KVCacheChoice,
  ): EngineSequence {
    const cache = this.createCache(kvCache ?? this.options.defaultKVCache);
    return new RuntimeSequence(this.model, sampling, prompt, () => ({
      logits: this.model.forward(prompt, { cache, startPosition: 0 }),
      position: prompt.length,
      cache,
    }));
  }

  async embed(tokens: readonly number[]): Promise<Float32Array> {
    const { config } = this.model;
    const hidden = this.model.embed(tokens);
    this.model.runLayers(hidden, {
      start: 0,
      end: config.numLayers,
      positions: Int32Array.from(tokens, (_, index) => index),
      cache: this.model.createCache(),
    });
    const size = config.hiddenSize;
    const pooled = new Float64Array(size);
    for (let row = 0; row < tokens.length; row++) {
      for (let column = 0; column < size; column++) pooled[column]! += hidden[row * size + column]!;
    }
    return Float32Array.from(pooled, (sum) => sum / tokens.length);
  }

  /** A cache for a choice (a full cache when none). */
  createCache(choice: KVCacheChoice | undefined): KVCacheV1 {
    if (!choice) return this.model.createCache();
    const { config } = this.model;
    return resolveKVOptions({
      policy: choice.policy,
      ...(choice.budget === undefined ? {} : { budget: choice.budget }),
      ...(choice.params === undefined ? {} : { params: choice.params }),
      compressEvery: this.options.compressEvery,
    }).createCache({ layers: config.numLayers, kvHeads: config.numKVHeads, headDim: config.headDim });
  }
}
