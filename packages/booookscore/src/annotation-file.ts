// The released annotation format of BooookScore (lilakk/BooookScore, annotations/*.json).
// A file maps a book name to its annotations, in one of two shapes:
//   { "<sentence>": { "questions": ..., "types": [...] }, ... }      (most files)
//   [ { "span": "<sentence>", "questions": ..., "types": [...] } ]    (llama2-2048-hier)
// A book may be missing or null: it has no confusing sentence. `questions` is a string or a list,
// `types` a list or a string; a sentence is confusing when either is non-empty.
import { LLMValidationError } from '@meld/llm';
import { z } from 'zod';

const textOrList = z.union([z.string(), z.array(z.string()), z.null()]).optional();

const annotationBody = z.object({ questions: textOrList, types: textOrList }).loose();
const annotationSpan = annotationBody.extend({ span: z.string() });

const bookAnnotations = z.union([z.record(z.string(), annotationBody), z.array(annotationSpan), z.null()]);

export const annotationFileSchema = z.record(z.string(), bookAnnotations);
export const summaryFileSchema = z.record(z.string(), z.string());

export interface SentenceAnnotation {
  sentence: string;
  questions: string[];
  types: string[];
}

export type AnnotationFile = Record<string, SentenceAnnotation[]>;
export type SummaryFile = Record<string, string>;

function asList(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  return list.map((item) => item.trim()).filter((item) => item.length > 0);
}

export function isConfusing(annotation: SentenceAnnotation): boolean {
  return annotation.questions.length > 0 || annotation.types.length > 0;
}

/** Validates and normalises an annotation file of either released shape. */
export function parseAnnotationFile(value: unknown, source = 'annotations'): AnnotationFile {
  const parsed = annotationFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LLMValidationError(
      [source, ...(issue?.path ?? []).map(String)].join('.'),
      issue?.message ?? 'invalid',
    );
  }
  const result: AnnotationFile = {};
  for (const [book, annotations] of Object.entries(parsed.data)) {
    if (annotations === null) {
      result[book] = [];
    } else if (Array.isArray(annotations)) {
      result[book] = annotations.map((item) => ({
        sentence: item.span,
        questions: asList(item.questions),
        types: asList(item.types),
      }));
    } else {
      result[book] = Object.entries(annotations).map(([sentence, item]) => ({
        sentence,
        questions: asList(item.questions),
        types: asList(item.types),
      }));
    }
  }
  return result;
}

/** Validates a summary file: book name -> final summary text. */
export function parseSummaryFile(value: unknown, source = 'summaries'): SummaryFile {
  const parsed = summaryFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LLMValidationError(
      [source, ...(issue?.path ?? []).map(String)].join('.'),
      issue?.message ?? 'invalid',
    );
  }
  return parsed.data;
}
