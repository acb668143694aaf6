// meld.long_context over @meld/context-merge: HOMER reads a prompt longer than the model's context by
// chunking it (sharing the prefix and suffix), merging the chunks layer by layer, and leaving one
// merged KV cache of at most half the context; generation continues after it.
import { type HomerCalibration, homerInputFromText, homerPrefill, planHomer } from '@meld/context-merge';
import type { KVCacheV1 } from '@meld/kv-cache';
import type { Model } from '@meld/runtime';
import { MeldError, ValidationError } from '@meld/tensor-core';
import type {
  EngineSequence,
  KVCacheChoice,
  LongContextRequest,
  PreparedLongContext,
  SamplingOptions,
} from './engine';
import { RuntimeSequence } from './runtime-sequence';

export class HomerLongContext {
  /** Tokens that can be generated after the merged cache (positions stay inside the trained context). */
  readonly room: number;
  private readonly model: Model;
  private readonly maxChunkLength: number;
  private readonly createCache: (choice: KVCacheChoice) => KVCacheV1;
  private readonly calibration: HomerCalibration | undefined;

  constructor(
    model: Model,
    createCache: (choice: KVCacheChoice) => KVCacheV1,
    calibration: HomerCalibration | undefined,
  ) {
    this.model = model;
    this.createCache = createCache;
    this.calibration = calibration;
    // HOMER's reference default: chunks of half the trained context; the merged cache keeps as many.
    this.maxChunkLength = Math.floor(model.config.contextLength / 2);
    this.room = model.config.contextLength - this.maxChunkLength;
  }

  prepare(request: LongContextRequest): PreparedLongContext {
    const input = this.input(request);
    const config = this.model.config;
    try {
      planHomer(
        {
          numLayers: config.numLayers,
          maxChunkLength: this.maxChunkLength,
          prefixLength: input.prefix.length,
          suffixLength: input.suffix.length,
          contextLength: input.context.length,
        },
        this.maxChunkLength,
      );
    } catch (error) {
      if (!MeldError.isInstance(error)) throw error;
      throw new ValidationError('meld.long_context', error.message);
    }
    const inputTokens = input.prefix.length + input.context.length + input.suffix.length;
    return { request, inputTokens, lastToken: input.suffix[input.suffix.length - 1]! };
  }

  start(prepared: PreparedLongContext, sampling: SamplingOptions, kvCache?: KVCacheChoice): EngineSequence {
    const input = this.input(prepared.request);
    const history = [...input.prefix, ...input.context, ...input.suffix];
    return new RuntimeSequence(this.model, sampling, history, () => {
      const result = homerPrefill(this.model, input, {
        maxChunkLength: this.maxChunkLength,
        ...(this.calibration ? { calibration: this.calibration } : {}),
      });
      let cache: KVCacheV1 = result.cache;
      if (kvCache) {
        // Continue in the requested policy's cache, holding the merged tokens.
        cache = this.createCache(kvCache);
        result.cache.copyInto(cache);
      }
      return {
        logits: Float32Array.from(result.logits),
        position: result.lastPosition + 1,
        cache,
        extraPeakBytes: result.cache.peakBytes(),
        longContext: {
          method: 'homer',
          input_tokens: result.inputTokens,
          kept_tokens: result.keptTokens,
          prefill_peak_bytes: result.peakBytes,
          warnings: [...result.warnings],
        },
      };
    });
  }

  private input(request: LongContextRequest) {
    try {
      return homerInputFromText(this.model, request.text, {
        ...(request.prefix === undefined ? {} : { prefix: request.prefix }),
        ...(request.suffix === undefined ? {} : { suffix: request.suffix }),
      });
    } catch (error) {
      if (error instanceof ValidationError) {
        const field = error.path === 'suffix' ? 'meld.long_context.suffix' : 'prompt';
        throw new ValidationError(field, error.message.slice(error.path.length + 2));
      }
      throw error;
    }
  }
}
