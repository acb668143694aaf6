// Wraps a LanguageModelV1 so that every completed call is stored in a CallCache and answered from
// it when asked again. Failed, aborted or errored calls are not stored.
import type { CallCache } from './call-cache';
import { cacheKey } from './call-cache';
import type {
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  StreamPart,
  Usage,
} from './language-model';
import { forwardOptional, type UsageLedger } from './usage-ledger';

export interface CachedModelOptions {
  /** Records each call as answered by the model or by the cache. */
  ledger?: UsageLedger;
}

export function withCallCache(
  model: LanguageModelV1,
  cache: CallCache,
  options: CachedModelOptions = {},
): LanguageModelV1 {
  const { ledger } = options;
  const request = (input: LanguageModelInput, parameters: GenerationParameters = {}) => ({
    modelId: model.modelId,
    input,
    parameters,
  });
  const storable = (result: GenerateResult) =>
    result.finishReason === 'stop' || result.finishReason === 'length';
  return {
    ...forwardOptional(model),
    specificationVersion: 'v1',
    modelId: model.modelId,
    async doGenerate(input, parameters) {
      const key = cacheKey(request(input, parameters));
      const hit = cache.get(key);
      if (hit) {
        ledger?.record(model.modelId, 'cache', hit.usage);
        return { text: hit.text, finishReason: hit.finishReason, usage: hit.usage };
      }
      const result = await model.doGenerate(input, parameters);
      ledger?.record(model.modelId, 'model', result.usage);
      if (storable(result)) cache.put(request(input, parameters), result);
      return result;
    },
    async *doStream(input, parameters): AsyncGenerator<StreamPart> {
      const key = cacheKey(request(input, parameters));
      const hit = cache.get(key);
      if (hit) {
        ledger?.record(model.modelId, 'cache', hit.usage);
        if (hit.text.length > 0) yield { type: 'text-delta', text: hit.text };
        yield { type: 'finish', finishReason: hit.finishReason, usage: hit.usage };
        return;
      }
      let text = '';
      for await (const part of model.doStream(input, parameters)) {
        if (part.type === 'text-delta') text += part.text;
        else {
          const usage: Usage = part.usage;
          ledger?.record(model.modelId, 'model', usage);
          const result = { text, finishReason: part.finishReason, usage };
          if (storable(result)) cache.put(request(input, parameters), result);
        }
        yield part;
      }
    },
  };
}
