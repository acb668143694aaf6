// Token and cost accounting for one run: every call is recorded with its model, whether it was
// answered by the model or replayed from the call cache, and its token usage.
import { z } from 'zod';
import { validationErrorFromZod } from './errors';
import type {
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  StreamPart,
  Usage,
} from './language-model';

/** Prices in US dollars per million tokens, keyed by model id ('openai:gpt-4o') or bare model name ('gpt-4o'). */
export const modelPricesSchema = z.record(
  z.string(),
  z.object({ inputPerMillion: z.number().min(0), outputPerMillion: z.number().min(0) }),
);
export type ModelPrices = z.infer<typeof modelPricesSchema>;

export function parseModelPrices(value: unknown, source = 'prices'): ModelPrices {
  const parsed = modelPricesSchema.safeParse(value);
  if (!parsed.success) throw validationErrorFromZod(source, parsed.error.issues);
  return parsed.data;
}

export type CallSource = 'model' | 'cache';

export interface ModelUsage {
  modelId: string;
  /** Calls answered by the model in this run. */
  calls: number;
  /** Calls replayed from the call cache. */
  cacheHits: number;
  /** Tokens spent by calls answered in this run. */
  promptTokens: number;
  completionTokens: number;
  /** Tokens of the replayed calls (spent by an earlier run). */
  cachedPromptTokens: number;
  cachedCompletionTokens: number;
  /** Dollars spent in this run, when prices are known for the model. */
  cost?: number;
  /** Dollars of the whole job, replayed calls included. */
  costIncludingCache?: number;
}

export interface UsageSummary {
  models: ModelUsage[];
  calls: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  cost?: number;
  costIncludingCache?: number;
}

function priceFor(prices: ModelPrices, modelId: string) {
  return prices[modelId] ?? prices[modelId.slice(modelId.indexOf(':') + 1)];
}

export class UsageLedger {
  readonly #models = new Map<string, ModelUsage>();

  record(modelId: string, source: CallSource, usage: Usage): void {
    let entry = this.#models.get(modelId);
    if (!entry) {
      entry = {
        modelId,
        calls: 0,
        cacheHits: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedPromptTokens: 0,
        cachedCompletionTokens: 0,
      };
      this.#models.set(modelId, entry);
    }
    if (source === 'model') {
      entry.calls++;
      entry.promptTokens += usage.promptTokens;
      entry.completionTokens += usage.completionTokens;
    } else {
      entry.cacheHits++;
      entry.cachedPromptTokens += usage.promptTokens;
      entry.cachedCompletionTokens += usage.completionTokens;
    }
  }

  summary(prices: ModelPrices = {}): UsageSummary {
    const models = [...this.#models.values()].map((entry) => {
      const price = priceFor(prices, entry.modelId);
      if (!price) return { ...entry };
      const cost =
        (entry.promptTokens * price.inputPerMillion + entry.completionTokens * price.outputPerMillion) / 1e6;
      const cached =
        (entry.cachedPromptTokens * price.inputPerMillion +
          entry.cachedCompletionTokens * price.outputPerMillion) /
        1e6;
      return { ...entry, cost, costIncludingCache: cost + cached };
    });
    const sum = (pick: (entry: ModelUsage) => number) =>
      models.reduce((total, entry) => total + pick(entry), 0);
    const priced = models.filter((entry) => entry.cost !== undefined);
    return {
      models,
      calls: sum((entry) => entry.calls),
      cacheHits: sum((entry) => entry.cacheHits),
      promptTokens: sum((entry) => entry.promptTokens),
      completionTokens: sum((entry) => entry.completionTokens),
      ...(priced.length > 0
        ? {
            cost: sum((entry) => entry.cost ?? 0),
            costIncludingCache: sum((entry) => entry.costIncludingCache ?? 0),
          }
        : {}),
    };
  }

  /** A model that records every call it answers in this ledger. */
  wrap(model: LanguageModelV1): LanguageModelV1 {
    const ledger = this;
    return {
      ...forwardOptional(model),
      specificationVersion: 'v1',
      modelId: model.modelId,
      async doGenerate(
        input: LanguageModelInput,
        parameters?: GenerationParameters,
      ): Promise<GenerateResult> {
        const result = await model.doGenerate(input, parameters);
        ledger.record(model.modelId, 'model', result.usage);
        return result;
      },
      async *doStream(
        input: LanguageModelInput,
        parameters?: GenerationParameters,
      ): AsyncGenerator<StreamPart> {
        for await (const part of model.doStream(input, parameters)) {
          if (part.type === 'finish') ledger.record(model.modelId, 'model', part.usage);
          yield part;
        }
      },
    };
  }
}

/** countTokens and embed, bound to the wrapped model, when it has them. */
export function forwardOptional(model: LanguageModelV1): Pick<LanguageModelV1, 'countTokens' | 'embed'> {
  return {
    ...(model.countTokens ? { countTokens: model.countTokens.bind(model) } : {}),
    ...(model.embed ? { embed: model.embed.bind(model) } : {}),
  };
}
