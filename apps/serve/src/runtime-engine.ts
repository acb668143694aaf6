// ServeEngineV1 over @meld/runtime: tokenizer, chat template, one decode step per `next()` with the
// runtime's own forward pass and sampler, and a KV cache per sequence from @meld/kv-cache's policies.
import { randomInt } from 'node:crypto';
import { type KVCacheV1, kvPolicyNames, resolveKVOptions } from '@meld/kv-cache';
import { HuggingFaceTokenizer, LocalLanguageModel, type Model, Sampler } from '@meld/runtime';
import type {
  ChatTurn,
  EngineSequence,
  KVCacheChoice,
  SamplingOptions,
  ServeEngineV1,
  TokenDecoder,
  TokenLogprob,
  TokenStep,
} from './engine';

export interface RuntimeEngineOptions {
  /** The policy used when a request names none (default: full cache). */
  defaultKVCache?: KVCacheChoice;
  /** Compress compressed caches every n decode steps (0 = the prompt only). */
  compressEvery: number;
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
    return new RuntimeSequence(
      this.model,
      prompt,
      sampling,
      this.createCache(kvCache ?? this.options.defaultKVCache),
    );
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

  private createCache(choice: KVCacheChoice | undefined): KVCacheV1 {
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

class RuntimeSequence implements EngineSequence {
  private readonly model: Model;
  private readonly prompt: readonly number[];
  private readonly sampling: SamplingOptions;
  private readonly sampler: Sampler;
  private readonly stopTokens: Set<number>;
  private cache: KVCacheV1 | undefined;
  private readonly history: number[];
  private position = 0;
  private finished = false;
  private peak = 0;

  constructor(model: Model, prompt: readonly number[], sampling: SamplingOptions, cache: KVCacheV1) {
    this.model = model;
    this.prompt = prompt;
    this.sampling = sampling;
    this.cache = cache;
    this.history = [...prompt];
    this.sampler = new Sampler({
      temperature: sampling.temperature,
      ...(sampling.topP < 1 ? { topP: sampling.topP } : {}),
      // Without a seed every sequence still needs its own draws (n > 1 started in the same millisecond).
      seed: sampling.seed ?? randomInt(1, 2 ** 31),
    });
    const { config } = model;
    this.stopTokens = new Set(config.eosTokenIds);
    if (config.stopAtBos && config.bosTokenId !== undefined) this.stopTokens.add(config.bosTokenId);
  }

  async next(): Promise<TokenStep | null> {
    if (this.finished || !this.cache) return null;
    let logits: Float32Array;
    if (this.position === 0) {
      logits = this.model.forward(this.prompt, { cache: this.cache, startPosition: 0 });
      this.position = this.prompt.length;
    } else {
      if (this.position >= this.model.config.contextLength) return this.end();
      const last = this.history[this.history.length - 1]!;
      logits = this.model.forward([last], { cache: this.cache, startPosition: this.position });
      this.position++;
    }
    this.peak = Math.max(this.peak, this.cache.peakBytes());
    const step = this.sampling.logprobs || this.sampling.topLogprobs > 0 ? logSoftmax(logits) : undefined;
    const token = this.sampler.sample(logits, this.history);
    if (this.stopTokens.has(token)) return this.end();
    this.history.push(token);
    if (!step) return { token };
    return {
      token,
      logprob: step[token]!,
      ...(this.sampling.topLogprobs > 0 ? { topLogprobs: topK(step, this.sampling.topLogprobs) } : {}),
    };
  }

  kvBytes(): number {
    return this.cache?.bytes() ?? 0;
  }

  peakKvBytes(): number {
    return Math.max(this.peak, this.cache?.peakBytes() ?? 0);
  }

  close(): void {
    if (this.cache) this.peak = Math.max(this.peak, this.cache.peakBytes());
    this.cache?.clear();
    this.cache = undefined;
    this.finished = true;
  }

  private end(): null {
    this.finished = true;
    return null;
  }
}

/** Natural-log softmax in float64. */
function logSoftmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits) max = Math.max(max, value);
  let total = 0;
  for (const value of logits) total += Math.exp(value - max);
  const logTotal = Math.log(total) + max;
  return Float64Array.from(logits, (value) => value - logTotal);
}

function topK(logprobs: Float64Array, k: number): TokenLogprob[] {
  const best: TokenLogprob[] = [];
  for (let token = 0; token < logprobs.length; token++) {
    const logprob = logprobs[token]!;
    if (best.length < k || logprob > best[best.length - 1]!.logprob) {
      best.push({ token, logprob });
      best.sort((a, b) => b.logprob - a.logprob || a.token - b.token);
      if (best.length > k) best.pop();
    }
  }
  return best;
}
