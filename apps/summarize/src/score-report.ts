// score.json: everything about a finished run that does not depend on whether it was resumed
// (job totals count every call of the job, whether answered now or replayed from the call cache).
import type { SentenceAnnotation } from '@meld/booookscore';
import type { ModelPrices, UsageSummary } from '@meld/llm';

export interface JobUsage {
  /** Model calls the whole job needed (replayed ones included). */
  calls: number;
  promptTokens: number;
  completionTokens: number;
  cost?: number;
  models: Array<{
    modelId: string;
    calls: number;
    promptTokens: number;
    completionTokens: number;
    cost?: number;
  }>;
}

export interface ScoreReport {
  book: string;
  title: string | undefined;
  workflow: 'hier' | 'inc';
  chunkSize: number;
  chunks: number;
  tokenizer: string;
  splitter: string;
  /** 0-100 */
  booookscore: number;
  sentences: number;
  confusing: number;
  errorTypes: Record<string, number>;
  summaryWords: number;
  models: { summarizer: string; annotator: string };
  usage: JobUsage;
  warnings: string[];
}

export function jobUsage(summary: UsageSummary, prices: ModelPrices | undefined): JobUsage {
  const models = summary.models.map((model) => ({
    modelId: model.modelId,
    calls: model.calls + model.cacheHits,
    promptTokens: model.promptTokens + model.cachedPromptTokens,
    completionTokens: model.completionTokens + model.cachedCompletionTokens,
    ...(prices && model.costIncludingCache !== undefined ? { cost: model.costIncludingCache } : {}),
  }));
  const sum = (pick: (model: (typeof models)[number]) => number) =>
    models.reduce((total, model) => total + pick(model), 0);
  return {
    calls: sum((model) => model.calls),
    promptTokens: sum((model) => model.promptTokens),
    completionTokens: sum((model) => model.completionTokens),
    ...(summary.costIncludingCache !== undefined ? { cost: summary.costIncludingCache } : {}),
    models,
  };
}

export function countErrorTypes(sentences: readonly SentenceAnnotation[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sentence of sentences) for (const type of sentence.types) counts[type] = (counts[type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
