// Incremental updating (BooookScore summ.py, get_incremental_summaries): summarise the first chunk,
// then update the running summary with each next chunk. When an update is too long (≥ max tokens) or
// does not end a sentence, the previous summary is compressed to word_limit·j/N words (±20%, 5% fewer
// per try, up to 6 tries) and the update is redone from the compressed summary.
import type { LanguageModelV1 } from '@meld/llm';
import { LLMValidationError } from '@meld/llm';
import { z } from 'zod';
import { parseOptions } from './options';
import type { ProgressCallback } from './progress';
import { type BooookScorePrompts, loadPrompts } from './prompts';
import { formatTemplate } from './python-format';
import { complete, countWords, endsLikeSentence, type WorkflowContext } from './summary-rules';
import { cl100kCounter, type TokenCounterV1 } from './token-counter';

export const incrementalOptionsSchema = z.object({
  maxSummaryLength: z.number().int().positive().default(900),
  wordRatio: z.number().positive().max(1).default(0.65),
  temperature: z.number().min(0).default(0.5),
  compressTemperature: z.number().min(0).default(1),
  maxCompressAttempts: z.number().int().min(1).default(6),
});
export type IncrementalOptions = z.input<typeof incrementalOptionsSchema> & {
  counter?: TokenCounterV1;
  prompts?: BooookScorePrompts;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
};

export interface IncrementalResult {
  summary: string;
  /** The running summary after each chunk (a compressed one replaces its predecessor). */
  steps: string[];
  /** Compress calls made, and updates whose compression found no valid result. */
  compressions: number;
  skippedCompressions: number;
  warnings: string[];
}

export async function summarizeIncrementally(
  model: LanguageModelV1,
  chunks: readonly string[],
  options: IncrementalOptions = {},
): Promise<IncrementalResult> {
  const { counter = cl100kCounter, prompts = loadPrompts(), onProgress, signal, ...rest } = options;
  const settings = parseOptions(incrementalOptionsSchema, rest);
  if (chunks.length === 0) throw new LLMValidationError('chunks', 'nothing to summarise');
  const context: WorkflowContext = { model, counter, signal };
  const templates = prompts.incremental;
  const limit = settings.maxSummaryLength;
  const wordLimit = Math.trunc(limit * settings.wordRatio);
  const warnings: string[] = [];
  const steps: string[] = [];
  let compressions = 0;
  let skippedCompressions = 0;

  const isValid = async (text: string) =>
    text.length > 0 && endsLikeSentence(text) && (await counter.count(text)) < limit;
  const update = (chunk: string, previous: string, key?: string) =>
    complete(context, formatTemplate(templates.intermediate, [chunk, previous]), {
      maxTokens: limit,
      temperature: settings.temperature,
      ...(key ? { cacheKey: key } : {}),
    });

  /** summ.py's compress(): returns the compressed previous summary and the redone update. */
  const compress = async (previous: string, chunk: string, index: number) => {
    const summaryWords = countWords(previous);
    const originalExpected = Math.trunc((wordLimit * index) / chunks.length);
    const tried = new Map<number, { compressed: string; response: string; valid: boolean }>();
    onProgress?.({ type: 'compress-start', index, expectedWords: originalExpected });
    for (let attempt = 0; attempt < settings.maxCompressAttempts; attempt++) {
      const expected = Math.trunc(originalExpected * (1 - attempt * 0.05));
      const prompt = formatTemplate(templates.compress, [previous, summaryWords, expected, expected]);
      const compressed = await complete(context, prompt, {
        maxTokens: limit,
        temperature: settings.compressTemperature,
      });
      compressions++;
      const words = countWords(compressed);
      const inRange = words >= Math.trunc(expected * 0.8) && words <= Math.trunc(expected * 1.2);
      if (!(await isValid(compressed)) || !inRange) continue;
      const response = await update(chunk, compressed, `after-compress-${attempt}`);
      const valid = await isValid(response);
      tried.set(words, { compressed, response, valid });
      if (valid) {
        onProgress?.({ type: 'compress-end', index, attempts: attempt + 1, skipped: false });
        return { compressed, response };
      }
    }
    skippedCompressions++;
    onProgress?.({ type: 'compress-end', index, attempts: settings.maxCompressAttempts, skipped: true });
    const candidates = [...tried.entries()];
    const valid = candidates.filter(([, entry]) => entry.valid);
    const pool = valid.length > 0 ? valid : candidates;
    if (pool.length === 0) {
      warnings.push(
        `chunk ${index}: compression failed; kept the uncompressed summary and the over-long update`,
      );
      return undefined;
    }
    pool.sort((a, b) => Math.abs(a[0] - originalExpected) - Math.abs(b[0] - originalExpected));
    warnings.push(
      `chunk ${index}: compression found no valid update; kept the closest to ${originalExpected} words`,
    );
    return pool[0][1];
  };

  let previous: string | undefined;
  for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index];
    let response =
      previous === undefined
        ? await complete(context, formatTemplate(templates.init, [chunk]), {
            maxTokens: limit,
            temperature: settings.temperature,
          })
        : await update(chunk, previous);
    if (previous !== undefined && !(await isValid(response))) {
      const result = await compress(previous, chunk, index);
      if (result) {
        steps[index - 1] = result.compressed;
        response = result.response;
      }
    }
    previous = response;
    steps.push(response);
    onProgress?.({ type: 'summary-end', workflow: 'incremental', level: 0, index, total: chunks.length });
  }
  return { summary: steps[steps.length - 1], steps, compressions, skippedCompressions, warnings };
}
