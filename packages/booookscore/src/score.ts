// BooookScore: per book, 1 - (confusing sentences / sentences); the score of a run is the mean
// over books. Books without annotations (missing or null) have no confusing sentence.
import { LLMValidationError } from '@meld/llm';
import { type AnnotationFile, isConfusing, type SummaryFile } from './annotation-file';
import { defaultSentenceSplitter, type SentenceSplitterName, sentenceSplitters } from './sentence-splitter';

export interface BookScore {
  /** 0..1 */
  score: number;
  sentences: number;
  confusing: number;
}

export interface BooookScoreResult {
  books: Record<string, BookScore>;
  /** Mean of the book scores, 0..1. */
  mean: number;
  splitter: SentenceSplitterName;
  warnings: string[];
}

export interface ScoreOptions {
  splitter?: SentenceSplitterName;
}

export function scoreBook(summary: string, confusing: number, splitter: SentenceSplitterName): BookScore {
  const sentences = sentenceSplitters[splitter].split(summary).length;
  if (sentences === 0) return { score: 1, sentences: 0, confusing };
  return { score: 1 - confusing / sentences, sentences, confusing };
}

/** Scores every book of `summaries` from existing annotations, without any model call. */
export function computeBooookScore(
  summaries: SummaryFile,
  annotations: AnnotationFile,
  options: ScoreOptions = {},
): BooookScoreResult {
  const splitter = options.splitter ?? defaultSentenceSplitter;
  if (!(splitter in sentenceSplitters)) {
    throw new LLMValidationError(
      'splitter',
      `unknown splitter '${splitter}' (${Object.keys(sentenceSplitters).join(', ')})`,
    );
  }
  const warnings: string[] = [];
  const books: Record<string, BookScore> = {};
  for (const [book, summary] of Object.entries(summaries)) {
    const confusing = (annotations[book] ?? []).filter(isConfusing).length;
    books[book] = scoreBook(summary, confusing, splitter);
    if (books[book].sentences === 0) warnings.push(`${book}: empty summary, scored 1`);
    if (confusing > books[book].sentences) warnings.push(`${book}: more confusing sentences than sentences`);
  }
  for (const book of Object.keys(annotations)) {
    if (!(book in summaries)) warnings.push(`${book}: annotated but has no summary, ignored`);
  }
  const scores = Object.values(books).map((book) => book.score);
  const mean = scores.length === 0 ? 0 : scores.reduce((sum, score) => sum + score, 0) / scores.length;
  return { books, mean, splitter, warnings };
}
