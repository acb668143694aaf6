// The BooookScore annotator (score.py): for each summary sentence the model answers
// "Questions: ... / Types: ..." with types from eight confusion categories; an answer that does not
// parse is re-queried. v2 ('batched', not used in the paper) asks about 10 numbered sentences at once
// and expects a JSON list.
import type { LanguageModelV1 } from '@meld/llm';
import { z } from 'zod';
import type { SentenceAnnotation } from './annotation-file';
import { parseOptions } from './options';
import type { ProgressCallback } from './progress';
import { type BooookScorePrompts, loadPrompts } from './prompts';
import { formatTemplate } from './python-format';
import { defaultSentenceSplitter, type SentenceSplitterName, sentenceSplitters } from './sentence-splitter';

export const confusionTypes = [
  'entity omission',
  'event omission',
  'causal omission',
  'salience',
  'discontinuity',
  'duplication',
  'inconsistency',
  'language',
] as const;
export type ConfusionType = (typeof confusionTypes)[number];

export type ParsedAnswer =
  | { valid: true; questions: string[]; types: ConfusionType[] }
  | { valid: false; reason: string };

function isConfusionType(value: string): value is ConfusionType {
  return (confusionTypes as readonly string[]).includes(value);
}

/** score.py's validate_response: two lines "Questions: ..." and "Types: ..."; "no confusion" in both or known types. */
export function parseSentenceAnswer(response: string): ParsedAnswer {
  if (response.split('\n').length < 2) return { valid: false, reason: 'fewer than two lines' };
  const lines = response
    .split('\n')
    .filter((line) => line.includes('Questions: ') || line.includes('Types: '));
  const questionsAt = lines[0]?.indexOf('Questions: ') ?? -1;
  const typesAt = lines[1]?.indexOf('Types: ') ?? -1;
  if (questionsAt === -1 || typesAt === -1) return { valid: false, reason: 'Questions or Types not found' };
  const questions = lines[0].slice(questionsAt + 'Questions: '.length).trim();
  const types = lines[1]
    .slice(typesAt + 'Types: '.length)
    .trim()
    .toLowerCase();
  if (questions.includes('no confusion')) {
    return types.includes('no confusion')
      ? { valid: true, questions: [], types: [] }
      : { valid: false, reason: '"no confusion" in questions but not in types' };
  }
  const list = types.split(', ').map((type) => type.trim());
  const unknown = list.filter((type) => !isConfusionType(type));
  if (unknown.length > 0) return { valid: false, reason: `invalid type: ${unknown.join(', ')}` };
  return {
    valid: true,
    questions: questions.length > 0 ? [questions] : [],
    types: list.filter(isConfusionType),
  };
}

const batchAnswerSchema = z.array(
  z
    .object({
      questions: z.union([z.string(), z.array(z.string()), z.null()]).optional(),
      types: z.union([z.string(), z.array(z.string()), z.null()]).optional(),
    })
    .loose(),
);

/** v2: the JSON list between the first '[' and the last ']', one entry per sentence. */
export function parseBatchAnswer(response: string, expected: number): SentenceAnnotation[] | string {
  const start = response.indexOf('[');
  const end = response.lastIndexOf(']');
  if (start === -1 || end < start) return 'no JSON list';
  let json: unknown;
  try {
    json = JSON.parse(response.slice(start, end + 1));
  } catch (error) {
    return `invalid JSON: ${error}`;
  }
  const parsed = batchAnswerSchema.safeParse(json);
  if (!parsed.success) return 'not a list of {questions, types}';
  if (parsed.data.length !== expected) return `${parsed.data.length} answers for ${expected} sentences`;
  const list = (value: string | string[] | null | undefined, split: boolean) => {
    if (value === null || value === undefined) return [];
    const items = typeof value === 'string' ? (split ? value.split(',') : [value]) : value;
    return items
      .map((item) => item.trim())
      .filter((item) => item.length > 0 && item.toLowerCase() !== 'null');
  };
  return parsed.data.map((answer) => ({
    sentence: '',
    questions: list(answer.questions, false),
    types: list(answer.types, true).map((type) => type.toLowerCase()),
  }));
}

export const annotateOptionsSchema = z.object({
  mode: z.enum(['sentence', 'batched']).default('sentence'),
  batchSize: z.number().int().positive().default(10),
  splitter: z.enum(['intl', 'regex']).default(defaultSentenceSplitter),
  /** Re-queries of one sentence (or batch) whose answer does not parse. */
  maxRequeries: z.number().int().min(0).default(5),
  maxTokens: z.number().int().positive().default(100),
});
export type AnnotateOptions = z.input<typeof annotateOptionsSchema> & {
  prompts?: BooookScorePrompts;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
};

export interface SummaryAnnotation {
  /** Every sentence of the summary, in order, with its questions and types (empty when clear). */
  sentences: SentenceAnnotation[];
  splitter: SentenceSplitterName;
  warnings: string[];
}

export async function annotateSummary(
  model: LanguageModelV1,
  summary: string,
  options: AnnotateOptions = {},
): Promise<SummaryAnnotation> {
  const { prompts = loadPrompts(), onProgress, signal, ...rest } = options;
  const settings = parseOptions(annotateOptionsSchema, rest);
  const sentences = sentenceSplitters[settings.splitter].split(summary);
  const warnings: string[] = [];
  const ask = async (prompt: string, attempt: number, maxTokens: number) => {
    const result = await model.doGenerate(
      { messages: [{ role: 'user', content: prompt }] },
      { maxTokens, temperature: 0, signal, ...(attempt > 0 ? { cacheKey: `requery-${attempt}` } : {}) },
    );
    return result.text;
  };
  let done = 0;
  const report = (annotation: SentenceAnnotation) => {
    const confusing = annotation.questions.length > 0 || annotation.types.length > 0;
    onProgress?.({ type: 'sentence-annotated', index: done++, total: sentences.length, confusing });
  };

  if (settings.mode === 'sentence') {
    const annotated = await Promise.all(
      sentences.map(async (sentence): Promise<SentenceAnnotation> => {
        const prompt = formatTemplate(prompts.annotate, [summary, sentence]);
        for (let attempt = 0; attempt <= settings.maxRequeries; attempt++) {
          const answer = parseSentenceAnswer(await ask(prompt, attempt, settings.maxTokens));
          if (answer.valid) {
            const annotation = { sentence, questions: answer.questions, types: answer.types };
            report(annotation);
            return annotation;
          }
          if (attempt < settings.maxRequeries) {
            onProgress?.({
              type: 'annotation-requery',
              sentence,
              attempt: attempt + 1,
              reason: answer.reason,
            });
          }
        }
        warnings.push(
          `no valid annotation after ${settings.maxRequeries} re-queries, counted as clear: ${sentence}`,
        );
        const annotation = { sentence, questions: [], types: [] };
        report(annotation);
        return annotation;
      }),
    );
    return { sentences: annotated, splitter: settings.splitter, warnings };
  }

  const batches: string[][] = [];
  for (let start = 0; start < sentences.length; start += settings.batchSize) {
    batches.push(sentences.slice(start, start + settings.batchSize));
  }
  const annotatedBatches = await Promise.all(
    batches.map(async (batch): Promise<SentenceAnnotation[]> => {
      const numbered = batch.map((sentence, index) => `${index + 1}. ${sentence}`).join('\n');
      const prompt = formatTemplate(prompts.annotateBatched, [], { summary, sentences: numbered });
      for (let attempt = 0; attempt <= settings.maxRequeries; attempt++) {
        const answer = parseBatchAnswer(
          await ask(prompt, attempt, settings.maxTokens * batch.length),
          batch.length,
        );
        if (typeof answer !== 'string') {
          const annotations = answer.map((item, index) => ({ ...item, sentence: batch[index] }));
          for (const annotation of annotations) report(annotation);
          return annotations;
        }
        if (attempt < settings.maxRequeries) {
          onProgress?.({
            type: 'annotation-requery',
            sentence: batch[0],
            attempt: attempt + 1,
            reason: answer,
          });
        }
      }
      warnings.push(
        `no valid batch annotation after ${settings.maxRequeries} re-queries, counted as clear: ${batch[0]} ...`,
      );
      const annotations = batch.map((sentence) => ({ sentence, questions: [], types: [] }));
      for (const annotation of annotations) report(annotation);
      return annotations;
    }),
  );
  return { sentences: annotatedBatches.flat(), splitter: settings.splitter, warnings };
}
