// meld-summarize score: BooookScore from existing summaries and annotations (released format),
// without any model call.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { computeBooookScore, parseAnnotationFile, parseSummaryFile } from '@meld/booookscore';
import { LLMValidationError } from '@meld/llm';
import { z } from 'zod';
import type { CommandIO } from './io';

export const scoreHelp = `meld-summarize score: BooookScore from existing summaries and annotations, no model call

Usage:
  meld-summarize score --summaries FILE.json --annotations FILE.json [--splitter intl|regex] [--json]

Flags:
  --summaries FILE.json    book name -> final summary text (BooookScore's summaries/*-cleaned.json
                           format, or summaries.json written by meld-summarize)
  --annotations FILE.json  book name -> annotations, either {sentence: {questions, types}} or
                           [{span, questions, types}]; a sentence is confusing when its questions or
                           types are non-empty; a book missing or null has no confusing sentence
  --splitter NAME          how summaries are cut into sentences: 'intl' (default, Unicode sentence
                           boundaries) or 'regex' ((?<=[.!?])\\s+, which reproduces the paper's
                           released numbers)
  --json                   print {"books": {name: score}, "mean": score} (0-100) instead of a table
  -h, --help               show this help
`;

const flagsSchema = z.object({
  summaries: z.string().min(1, 'required'),
  annotations: z.string().min(1, 'required'),
  splitter: z.enum(['intl', 'regex']).default('intl'),
  json: z.boolean().default(false),
});

function readJson(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new LLMValidationError(
      `--${flag}`,
      `cannot read JSON from ${path}: ${error instanceof Error ? error.message : error}`,
    );
  }
}

export async function scoreCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      summaries: { type: 'string' },
      annotations: { type: 'string' },
      splitter: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(scoreHelp);
    return 0;
  }
  const parsed = flagsSchema.safeParse({
    summaries: values.summaries ?? '',
    annotations: values.annotations ?? '',
    splitter: values.splitter,
    json: values.json,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LLMValidationError(`--${String(issue.path[0])}`, issue.message);
  }
  const flags = parsed.data;
  const summaries = parseSummaryFile(readJson(flags.summaries, 'summaries'), flags.summaries);
  const annotations = parseAnnotationFile(readJson(flags.annotations, 'annotations'), flags.annotations);
  const result = computeBooookScore(summaries, annotations, { splitter: flags.splitter });
  const books = Object.fromEntries(
    Object.entries(result.books).map(([book, score]) => [book, score.score * 100]),
  );
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ books, mean: result.mean * 100 })}\n`);
  } else {
    const width = Math.max(4, ...Object.keys(books).map((book) => book.length));
    io.stdout.write(`${'book'.padEnd(width)}  score  sentences  confusing\n`);
    for (const [book, score] of Object.entries(result.books)) {
      io.stdout.write(
        `${book.padEnd(width)}  ${(score.score * 100).toFixed(1).padStart(5)}  ${String(score.sentences).padStart(9)}  ${String(score.confusing).padStart(9)}\n`,
      );
    }
    io.stdout.write(
      `${'mean'.padEnd(width)}  ${(result.mean * 100).toFixed(1).padStart(5)}  (${Object.keys(books).length} books, ${result.splitter} splitter)\n`,
    );
  }
  for (const warning of result.warnings) io.stderr.write(`warning: ${warning}\n`);
  return 0;
}
