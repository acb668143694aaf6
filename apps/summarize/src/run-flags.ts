// Flags of `meld-summarize BOOK.txt ...`, validated with zod (a failure names the flag).
import { LLMValidationError } from '@meld/llm';
import { z } from 'zod';

export const runHelp = `meld-summarize: summarise a book (BooookScore's hierarchical merging or incremental updating),
annotate the summary's confusing sentences and write a report

Usage:
  meld-summarize BOOK.txt --workflow hier|inc --out DIR (--base-url URL --model NAME | --model PATH) [flags]
  meld-summarize score --summaries FILE.json --annotations FILE.json [--splitter regex] [--json]
                                           (see meld-summarize score --help)

Input and output:
  BOOK.txt                  the book as plain text; a Project Gutenberg license header and footer are
                            removed and hard-wrapped lines are joined into paragraphs
  --out DIR                 writes summary.md, summaries.json, annotations.json, score.json, report.html
                            and run.json (this run's own calls and cost) into DIR, each atomically
  --book-name NAME          the book's key in summaries.json and annotations.json (default: file name)

Summariser:
  --workflow hier|inc       hierarchical merging (default) or incremental updating
  --chunk-size N            tokens per chunk (default 2048); the paper also used 4096 and 88000
  --base-url URL            an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1
  --model NAME|PATH         the model name at --base-url, or, without --base-url, a local model file
                            run by @meld/runtime
  --endpoint chat|completion  /chat/completions (default) or /completions
  --api-key-env NAME        environment variable holding the API key (default OPENAI_API_KEY; none sent
                            when it is unset)
  --max-context N           the summariser's context window in tokens (default 8192)
  --max-summary N           tokens of the final summary (default 900; word limits are 0.65 per token)
  --tokenizer cl100k|model  count tokens with cl100k_base as the paper (default) or the model's own
                            tokenizer when it offers one
  --remove-artifacts        one more call that removes "in this segment"-style artifacts (the paper's
                            cleanup step)
  --prompts DIR             a folder laid out like BooookScore's prompts/ (default: the bundled prompts)

Annotator:
  --annotator-base-url URL  endpoint of the annotating model (default: --base-url)
  --annotator-model NAME    annotating model (default: --model); the paper used GPT-4
  --annotator-mode sentence|batched  one prompt per sentence (default, as the paper) or 10 per prompt (v2)
  --splitter intl|regex     sentence splitter (default intl; regex is (?<=[.!?])\\s+)

Calls and accounting:
  --cache FILE              SQLite call cache (default DIR/calls.sqlite): a rerun of the same command,
                            e.g. after a crash, replays finished calls instead of repeating them
  --concurrency N           requests in flight per endpoint (default 4)
  --timeout-ms N            per-request timeout (default 300000)
  --max-retries N           retries on 429, 5xx, timeouts and network errors (default 4)
  --prices FILE.yml         dollars per million tokens per model, e.g.
                              gpt-4o: { inputPerMillion: 2.5, outputPerMillion: 10 }
                            so the report shows the cost
  --quiet                   no progress output
  -h, --help                show this help
`;

const positiveInteger = (flag: string) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} must be a positive integer`)
    .transform(Number)
    .refine((value) => value > 0, `${flag} must be a positive integer`);

export const runFlagsSchema = z
  .object({
    book: z.string().min(1, 'a BOOK.txt argument is required'),
    out: z.string().min(1, 'required'),
    bookName: z.string().min(1).optional(),
    workflow: z.enum(['hier', 'inc']).default('hier'),
    chunkSize: positiveInteger('--chunk-size').default(2048),
    baseUrl: z.url().optional(),
    model: z.string().min(1, 'required (a model name with --base-url, or a local model path)'),
    endpoint: z.enum(['chat', 'completion']).default('chat'),
    apiKeyEnv: z.string().min(1).default('OPENAI_API_KEY'),
    maxContext: positiveInteger('--max-context').default(8192),
    maxSummary: positiveInteger('--max-summary').default(900),
    tokenizer: z.enum(['cl100k', 'model']).default('cl100k'),
    removeArtifacts: z.boolean().default(false),
    prompts: z.string().min(1).optional(),
    annotatorBaseUrl: z.url().optional(),
    annotatorModel: z.string().min(1).optional(),
    annotatorMode: z.enum(['sentence', 'batched']).default('sentence'),
    splitter: z.enum(['intl', 'regex']).default('intl'),
    cache: z.string().min(1).optional(),
    concurrency: positiveInteger('--concurrency').default(4),
    timeoutMs: positiveInteger('--timeout-ms').default(300_000),
    maxRetries: z.string().regex(/^\d+$/, '--max-retries must be an integer').transform(Number).default(4),
    prices: z.string().min(1).optional(),
    quiet: z.boolean().default(false),
  })
  .superRefine((flags, context) => {
    if (flags.annotatorBaseUrl && !flags.annotatorModel) {
      context.addIssue({
        code: 'custom',
        path: ['annotatorModel'],
        message: 'required with --annotator-base-url',
      });
    }
  });

export type RunFlags = z.output<typeof runFlagsSchema>;

const flagNames: Record<string, string> = { book: 'BOOK.txt' };

export function parseRunFlags(values: Record<string, unknown>): RunFlags {
  const parsed = runFlagsSchema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = String(issue.path[0]);
  const flag = flagNames[key] ?? `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
  throw new LLMValidationError(flag, issue.message);
}
