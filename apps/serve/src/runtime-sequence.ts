// One decoding sequence over @meld/runtime: a prefill (a plain forward pass, or HOMER's merged
// prefill) and then one token per `next()` through runtime's forward pass and sampler, with optional
// log-probabilities of the raw model distribution.
import { randomInt } from 'node:crypto';
import type { KVCacheV1 } from '@meld/kv-cache';
import { type Model, Sampler } from '@meld/runtime';
import type { EngineSequence, LongContextStats, SamplingOptions, TokenLogprob, TokenStep } from './engine';

/** What a prefill leaves: logits of the input's last token, the next position, the cache holding the input. */
export interface PrefillResult {
  logits: Float32Array;
  position: number;
  cache: KVCacheV1;
  /** Peak bytes of caches the prefill used and dropped (e.g. HOMER's merge tree). */
  extraPeakBytes?: number;
  longContext?: LongContextStats;
}

export class RuntimeSequence implements EngineSequence {
  private readonly model: Model;
  private readonly sampling: SamplingOptions;
  private readonly sampler: Sampler;
  private readonly stopTokens: Set<number>;
  private readonly prefill: () => PrefillResult;
  private cache: KVCacheV1 | undefined;
  /** Tokens so far (for the repetition penalty's history and the next forward pass). */
  private readonly history: number[];
  private position = -1;
  private finished = false;
  private peak = 0;
  private stats: LongContextStats | undefined;

  /** `history` seeds the sampler's history (the prompt); `prefill` runs on the first `next()`. */
  constructor(
    model: Model,
    sampling: SamplingOptions,
    history: readonly number[],
    prefill: () => PrefillResult,
  ) {
    this.model = model;
    this.sampling = sampling;
    this.prefill = prefill;
    this.history = [...history];
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
    if (this.finished) return null;
    let logits: Float32Array;
    if (this.position < 0) {
      const result = this.prefill();
      this.cache = result.cache;
      this.position = result.position;
      this.peak = result.extraPeakBytes ?? 0;
      this.stats = result.longContext;
      logits = result.logits;
    } else {
      if (!this.cache || this.position >= this.model.config.contextLength) return this.end();
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

  longContext(): LongContextStats | undefined {
    return this.stats;
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
