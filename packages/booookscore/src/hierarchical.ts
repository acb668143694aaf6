// Hierarchical merging (BooookScore summ.py, get_hierarchical_summaries): summarise every chunk, then
// merge consecutive summaries packed as "Summary j:" into the context budget, level by level, until one
// remains. Level limits come from the token budget (max·0.65^k, reversed); at levels above 0 the previous
// summary of the same level, cut to 20% of the budget, is given as context.
import { type LanguageModelV1, LLMError, LLMValidationError } from '@meld/llm';
import { z } from 'zod';
import { parseOptions } from './options';
import type { ProgressCallback } from './progress';
import { type BooookScorePrompts, loadPrompts } from './prompts';
import { formatTemplate } from './python-format';
import { complete, endsLikeSentence, roundHalfEven, type WorkflowContext } from './summary-rules';
import { cl100kCounter, type TokenCounterV1 } from './token-counter';

export const hierarchicalOptionsSchema = z.object({
  chunkSize: z.number().int().positive().default(2048),
  /** The summariser's context window in tokens. */
  maxContextLength: z.number().int().positive().default(8192),
  /** Tokens of the final summary (and of every summary that is merged in one go). */
  maxSummaryLength: z.number().int().positive().default(900),
  /** Words per token used to turn a token budget into the prompt's word limit. */
  wordRatio: z.number().positive().max(1).default(0.65),
  /** Summary length assumed above level 0 when estimating the number of levels. */
  estimatedSummaryLength: z.number().int().positive().default(450),
  temperature: z.number().min(0).default(0.5),
  retryTemperature: z.number().min(0).default(1),
  maxRetries: z.number().int().min(0).default(6),
});
export type HierarchicalOptions = z.input<typeof hierarchicalOptionsSchema> & {
  counter?: TokenCounterV1;
  prompts?: BooookScorePrompts;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
};

export interface HierarchicalResult {
  summary: string;
  /** levels[0] are the chunk summaries, the last level holds the final summary. */
  levels: string[][];
  warnings: string[];
}

/** Per-level token limits: [.., max·r², max·r, max], one per estimated level. */
export async function estimateLevelLimits(
  chunks: number,
  settings: z.output<typeof hierarchicalOptionsSchema>,
  mergeOverhead: number,
): Promise<number[]> {
  let remaining = chunks;
  let inputLength = settings.chunkSize;
  let levels = 0;
  while (remaining > 1) {
    const fit = Math.max(2, Math.floor((settings.maxContextLength - mergeOverhead - 20) / inputLength));
    remaining = Math.ceil(remaining / fit);
    inputLength = settings.estimatedSummaryLength;
    levels++;
  }
  const limits = [settings.maxSummaryLength];
  for (let level = 0; level < levels - 1; level++)
    limits.push(Math.trunc(limits[limits.length - 1] * settings.wordRatio));
  return limits.reverse();
}

export async function summarizeHierarchically(
  model: LanguageModelV1,
  chunks: readonly string[],
  options: HierarchicalOptions = {},
): Promise<HierarchicalResult> {
  const { counter = cl100kCounter, prompts = loadPrompts(), onProgress, signal, ...rest } = options;
  const settings = parseOptions(hierarchicalOptionsSchema, rest);
  if (chunks.length === 0) throw new LLMValidationError('chunks', 'nothing to summarise');
  const context: WorkflowContext = { model, counter, signal };
  const templates = prompts.hierarchical;
  const warnings: string[] = [];
  const mergeOverhead = await counter.count(formatTemplate(templates.merge, ['', 0]));
  const limits = await estimateLevelLimits(chunks.length, settings, mergeOverhead);

  const summarize = async (
    text: string,
    previous: string,
    tokenLimit: number,
    level: number,
  ): Promise<string> => {
    const prompt = (words: number) => {
      if (level === 0) return formatTemplate(templates.init, [text, words]);
      if (previous.length > 0) return formatTemplate(templates.mergeContext, [previous, text, words]);
      return formatTemplate(templates.merge, [text, words]);
    };
    let wordLimit = roundHalfEven(tokenLimit * settings.wordRatio);
    let response = await complete(context, prompt(wordLimit), {
      maxTokens: tokenLimit,
      temperature: settings.temperature,
    });
    for (let empty = 1; response.length === 0; empty++) {
      if (empty > settings.maxRetries)
        throw new LLMError('empty-summary', `level ${level}: the model returned empty summaries`);
      response = await complete(context, prompt(wordLimit), {
        maxTokens: tokenLimit,
        temperature: settings.temperature,
        cacheKey: `empty-${empty}`,
      });
    }
    for (let attempt = 0; ; attempt++) {
      const tokens = await counter.count(response);
      const valid = response.length > 0 && tokens <= tokenLimit && endsLikeSentence(response);
      if (valid) return response;
      wordLimit *= 1 - 0.1 * attempt;
      if (attempt === settings.maxRetries) {
        warnings.push(`level ${level}: no valid summary after ${attempt} retries; kept the last one`);
        return response;
      }
      const reason = tokens > tokenLimit ? `${tokens} tokens > ${tokenLimit}` : 'does not end a sentence';
      onProgress?.({
        type: 'summary-retry',
        level,
        attempt: attempt + 1,
        wordLimit: Math.round(wordLimit),
        reason,
      });
      response = await complete(context, prompt(Math.round(wordLimit)), {
        maxTokens: tokenLimit,
        temperature: settings.retryTemperature,
        cacheKey: `retry-${attempt + 1}`,
      });
    }
  };

  const levels: string[][] = [];
  let inputs: readonly string[] = chunks;
  for (let level = 0; ; level++) {
    onProgress?.({ type: 'level-start', level, inputs: inputs.length });
    let summaryLimit = level >= limits.length ? settings.maxSummaryLength : limits[level];
    if (
      (await counter.count(inputs.join('\n\n'))) + settings.maxSummaryLength + mergeOverhead + 20 <=
      settings.maxContextLength
    ) {
      summaryLimit = settings.maxSummaryLength;
    }
    const budget = settings.maxContextLength - summaryLimit - mergeOverhead - 20;
    const outputs: string[] = [];
    if (level === 0) {
      let done = 0;
      const results = await Promise.all(
        inputs.map(async (chunk) => {
          const summary = await summarize(chunk, '', summaryLimit, 0);
          onProgress?.({
            type: 'summary-end',
            workflow: 'hierarchical',
            level,
            index: done++,
            total: inputs.length,
          });
          return summary;
        }),
      );
      outputs.push(...results);
    } else {
      const contextLength = Math.floor(0.2 * budget);
      for (let index = 0; index < inputs.length; index++) {
        let previous = outputs.at(-1) ?? '';
        if ((await counter.count(previous)) > contextLength) {
          previous = await counter.truncate(previous, contextLength);
          if (previous.includes('.')) previous = `${previous.slice(0, previous.lastIndexOf('.'))}.`;
        }
        let part = 1;
        let text = `Summary ${part}:\n\n${inputs[index]}`;
        while (index + 1 < inputs.length) {
          const longer = `${text}\n\nSummary ${part + 1}:\n\n${inputs[index + 1]}`;
          if ((await counter.count(previous + longer)) + 20 > budget) break;
          text = longer;
          index++;
          part++;
        }
        outputs.push(await summarize(text, previous, summaryLimit, level));
        onProgress?.({
          type: 'summary-end',
          workflow: 'hierarchical',
          level,
          index: index,
          total: inputs.length,
        });
      }
    }
    levels.push(outputs);
    if (outputs.length === 1) return { summary: outputs[0], levels, warnings };
    if (level > 0 && outputs.length >= inputs.length) {
      throw new LLMValidationError(
        'maxContextLength',
        `${settings.maxContextLength} tokens cannot hold two level-${level} summaries: merging would never finish`,
      );
    }
    inputs = outputs;
  }
}
