// meld-summarize BOOK.txt ...: chunk, summarise, annotate, score, report. Every model call goes
// through the SQLite call cache, so the same command run again after a crash resumes where it stopped.
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  annotateSummary,
  chunkText,
  cl100kCounter,
  countWords,
  loadPrompts,
  modelTokenCounter,
  removeArtifacts,
  summarizeHierarchically,
  summarizeIncrementally,
} from '@meld/booookscore';
import {
  CallCache,
  type LanguageModelV1,
  LLMValidationError,
  type ModelPrices,
  parseModelPrices,
  UsageLedger,
  withCallCache,
} from '@meld/llm';
import { parse as parseYaml } from 'yaml';
import { readBookText } from './gutenberg';
import type { CommandIO } from './io';
import { localModel, remoteModel } from './model-factory';
import { createProgress } from './progress-bars';
import { renderReport } from './report-html';
import { parseRunFlags, type RunFlags, runHelp } from './run-flags';
import { countErrorTypes, jobUsage, type ScoreReport } from './score-report';
import { writeFileAtomic } from './write-atomic';

export const runOptions = {
  out: { type: 'string' },
  'book-name': { type: 'string' },
  workflow: { type: 'string' },
  'chunk-size': { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  endpoint: { type: 'string' },
  'api-key-env': { type: 'string' },
  'max-context': { type: 'string' },
  'max-summary': { type: 'string' },
  tokenizer: { type: 'string' },
  'remove-artifacts': { type: 'boolean' },
  prompts: { type: 'string' },
  'annotator-base-url': { type: 'string' },
  'annotator-model': { type: 'string' },
  'annotator-mode': { type: 'string' },
  splitter: { type: 'string' },
  cache: { type: 'string' },
  concurrency: { type: 'string' },
  'timeout-ms': { type: 'string' },
  'max-retries': { type: 'string' },
  prices: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function readPrices(path: string): ModelPrices {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new LLMValidationError(
      '--prices',
      `cannot read YAML from ${path}: ${error instanceof Error ? error.message : error}`,
    );
  }
  return parseModelPrices(value ?? {}, '--prices');
}

async function buildModels(flags: RunFlags, io: CommandIO, quiet: boolean) {
  const onRetry = quiet
    ? undefined
    : (event: { attempt: number; delayMs: number; error: Error }) =>
        io.stderr.write(
          `retry ${event.attempt} in ${Math.round(event.delayMs)} ms: ${event.error.message.slice(0, 160)}\n`,
        );
  const remote = (baseURL: string, model: string) =>
    remoteModel({
      baseURL,
      model,
      endpoint: flags.endpoint,
      apiKeyEnvironmentVariable: flags.apiKeyEnv,
      concurrency: flags.concurrency,
      timeoutMs: flags.timeoutMs,
      maxRetries: flags.maxRetries,
      ...(onRetry ? { onRetry } : {}),
    });
  const summarizer: LanguageModelV1 = flags.baseUrl
    ? remote(flags.baseUrl, flags.model)
    : await localModel(resolve(flags.model));
  let annotator = summarizer;
  const annotatorBaseURL = flags.annotatorBaseUrl ?? flags.baseUrl;
  if (flags.annotatorModel || flags.annotatorBaseUrl) {
    if (!annotatorBaseURL)
      throw new LLMValidationError(
        '--annotator-base-url',
        'required with --annotator-model when --model is a local path',
      );
    annotator = remote(annotatorBaseURL, flags.annotatorModel ?? flags.model);
  }
  return { summarizer, annotator };
}

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: runOptions,
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(runHelp);
    return 0;
  }
  if (positionals.length > 1)
    throw new LLMValidationError('BOOK.txt', `one book at a time (got ${positionals.join(', ')})`);
  const flags = parseRunFlags({
    book: positionals[0] ?? '',
    out: values.out ?? '',
    bookName: values['book-name'],
    workflow: values.workflow,
    chunkSize: values['chunk-size'],
    baseUrl: values['base-url'],
    model: values.model ?? '',
    endpoint: values.endpoint,
    apiKeyEnv: values['api-key-env'],
    maxContext: values['max-context'],
    maxSummary: values['max-summary'],
    tokenizer: values.tokenizer,
    removeArtifacts: values['remove-artifacts'],
    prompts: values.prompts,
    annotatorBaseUrl: values['annotator-base-url'],
    annotatorModel: values['annotator-model'],
    annotatorMode: values['annotator-mode'],
    splitter: values.splitter,
    cache: values.cache,
    concurrency: values.concurrency,
    timeoutMs: values['timeout-ms'],
    maxRetries: values['max-retries'],
    prices: values.prices,
    quiet: values.quiet,
  });

  let raw: string;
  try {
    raw = readFileSync(flags.book, 'utf8');
  } catch (error) {
    throw new LLMValidationError(
      'BOOK.txt',
      `cannot read ${flags.book}: ${error instanceof Error ? error.message : error}`,
    );
  }
  const book = readBookText(raw);
  const bookName = flags.bookName ?? basename(flags.book, extname(flags.book));
  const prices = flags.prices ? readPrices(flags.prices) : undefined;
  const prompts = loadPrompts(flags.prompts);
  mkdirSync(flags.out, { recursive: true });

  const progress = createProgress(io, flags.quiet);
  const cache = CallCache.open(flags.cache ?? join(flags.out, 'calls.sqlite'));
  const ledger = new UsageLedger();
  const startedAt = new Date().toISOString();
  try {
    const built = await buildModels(flags, io, flags.quiet);
    const summarizer = withCallCache(built.summarizer, cache, { ledger });
    const annotator =
      built.annotator === built.summarizer ? summarizer : withCallCache(built.annotator, cache, { ledger });
    const counter = flags.tokenizer === 'model' ? modelTokenCounter(built.summarizer) : cl100kCounter;
    const warnings: string[] = [];
    if (!book.strippedHeader) warnings.push('no Project Gutenberg header found; the whole file was used');

    progress.stage('chunk', 1);
    const chunks = await chunkText(book.text, { chunkSize: flags.chunkSize, counter });
    progress.tick('chunk');
    progress.log(`${chunks.length} chunks of at most ${flags.chunkSize} ${counter.name} tokens`);
    const onProgress = progress.onBooookScore;

    let summary: string;
    if (flags.workflow === 'hier') {
      const result = await summarizeHierarchically(summarizer, chunks, {
        chunkSize: flags.chunkSize,
        maxContextLength: flags.maxContext,
        maxSummaryLength: flags.maxSummary,
        counter,
        prompts,
        onProgress,
      });
      summary = result.summary;
      warnings.push(...result.warnings);
    } else {
      const result = await summarizeIncrementally(summarizer, chunks, {
        maxSummaryLength: flags.maxSummary,
        counter,
        prompts,
        onProgress,
      });
      summary = result.summary;
      warnings.push(...result.warnings);
    }
    if (flags.removeArtifacts) {
      const cleaned = await removeArtifacts(summarizer, summary, { prompts, counter });
      summary = cleaned.summary;
      warnings.push(...cleaned.warnings);
    }

    const annotation = await annotateSummary(annotator, summary, {
      mode: flags.annotatorMode,
      splitter: flags.splitter,
      prompts,
      onProgress,
    });
    warnings.push(...annotation.warnings);
    const confusing = annotation.sentences.filter(
      (item) => item.questions.length > 0 || item.types.length > 0,
    ).length;
    const sentences = annotation.sentences.length;
    const usage = ledger.summary(prices);
    const report: ScoreReport = {
      book: bookName,
      title: book.title,
      workflow: flags.workflow,
      chunkSize: flags.chunkSize,
      chunks: chunks.length,
      tokenizer: counter.name,
      splitter: flags.splitter,
      booookscore: sentences === 0 ? 100 : (1 - confusing / sentences) * 100,
      sentences,
      confusing,
      errorTypes: countErrorTypes(annotation.sentences),
      summaryWords: countWords(summary),
      models: { summarizer: built.summarizer.modelId, annotator: built.annotator.modelId },
      usage: jobUsage(usage, prices),
      warnings,
    };

    const title = book.title ?? bookName;
    writeFileAtomic(join(flags.out, 'summary.md'), `# ${title}\n\n${summary}\n`);
    writeFileAtomic(
      join(flags.out, 'summaries.json'),
      `${JSON.stringify({ [bookName]: summary }, null, 2)}\n`,
    );
    const spans = annotation.sentences.map((item) => ({
      span: item.sentence,
      questions: item.questions,
      types: item.types,
    }));
    writeFileAtomic(
      join(flags.out, 'annotations.json'),
      `${JSON.stringify({ [bookName]: spans }, null, 2)}\n`,
    );
    writeFileAtomic(join(flags.out, 'score.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileAtomic(join(flags.out, 'report.html'), renderReport(report, summary, annotation.sentences));
    const run = { startedAt, finishedAt: new Date().toISOString(), cache: cache.path, ...usage };
    writeFileAtomic(join(flags.out, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
    progress.stop();
    for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`);
    io.stdout.write(
      `BooookScore ${report.booookscore.toFixed(1)} (${confusing} of ${sentences} sentences confusing); ` +
        `${usage.calls} model calls, ${usage.cacheHits} from the cache${usage.cost === undefined ? '' : `, $${usage.cost.toFixed(4)}`}; ` +
        `report: ${join(flags.out, 'report.html')}\n`,
    );
    return 0;
  } finally {
    progress.stop();
    cache.close();
  }
}
