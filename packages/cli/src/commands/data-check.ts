// meld data check: Platypus's near-duplicate and contamination checks on a JSONL training set.
import { readFileSync } from 'node:fs';
import {
  baseWeightsFromModel,
  checkData,
  type EmbeddingFunction,
  endpointEmbedder,
  FrozenModel,
  localEmbedder,
  parseJsonl,
  trainingTokenizerFromModel,
  writeDataCheckReport,
} from '@meld/finetune';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { loadModelSource } from '../options/model-source';
import { parseCommandLine } from '../options/parse';

const help = `meld data check --train FILE.jsonl [--test FILE.jsonl] --out REPORT_DIR [options]

Removes near-duplicates within the training set and training items too close to a test item
(contamination), as Platypus did, and writes REPORT_DIR/cleaned.jsonl (the kept lines, verbatim),
report.json and report.md (every removed line, why, and what it matched).

Checks (records are compared by their prompt: instruction + ' ' + input, the user turns, the
prompt, or the text):
  n-gram (always, deterministic): a record is a duplicate when at least --ngram-dedup of its word
    n-grams appear in one earlier kept record; it is contaminated when it shares any n-gram with
    a test record (GPT-3's 13-gram rule).
  embedding (with --embed or --embed-base-url): a record is a duplicate when its cosine to an
    earlier kept record is above --dedup; for each test record, its nearest training record is
    removed when their cosine is at least --contamination.

Options:
  --train FILE.jsonl        training data (required)
  --test FILE.jsonl         test data to check contamination against (default: no contamination check)
  --out DIR                 report folder (required)
  --embed local:MODEL       embeddings = mean-pooled final hidden states of a local model
                            (llama2.c .bin, GGUF, HF folder or hf:owner/repo; default: n-gram checks only)
  --tokenizer FILE          tokenizer for a llama2.c embedding model (default: beside it)
  --embed-base-url URL      an OpenAI-compatible endpoint (POST URL/embeddings) instead (default none)
  --embed-model NAME        the endpoint's embedding model (required with --embed-base-url)
  --embed-api-key-env VAR   environment variable holding the endpoint's API key (default OPENAI_API_KEY)
  --dedup X                 cosine duplicate threshold (default 0.7, Platypus with all-MiniLM-L6-v2;
                            small local models' mean-pooled states need a higher one)
  --contamination X         cosine contamination threshold (default 0.8, Platypus)
  --ngram N                 n-gram length in words (default 13)
  --ngram-dedup X           share of shared n-grams that makes a duplicate (default 0.7)
  --help                    this text

Example:
  meld data check --train train.jsonl --test test.jsonl --out report/ --ngram 8
`;

const flags = {
  train: { type: 'string' },
  test: { type: 'string' },
  out: { type: 'string' },
  embed: { type: 'string' },
  tokenizer: { type: 'string' },
  'embed-base-url': { type: 'string' },
  'embed-model': { type: 'string' },
  'embed-api-key-env': { type: 'string' },
  dedup: { type: 'string' },
  contamination: { type: 'string' },
  ngram: { type: 'string' },
  'ngram-dedup': { type: 'string' },
} as const;

const number = (flag: string) => z.coerce.number({ error: `--${flag} must be a number` });

const optionsSchema = z
  .object({
    train: z.string({ error: '--train is required' }).min(1),
    test: z.string().optional(),
    out: z.string({ error: '--out is required' }).min(1),
    embed: z
      .string()
      .regex(/^local:.+/, 'must be local:MODEL')
      .optional(),
    tokenizer: z.string().optional(),
    'embed-base-url': z.string().url().optional(),
    'embed-model': z.string().min(1).optional(),
    'embed-api-key-env': z.string().min(1).optional(),
    dedup: number('dedup').min(-1).max(1).optional(),
    contamination: number('contamination').min(-1).max(1).optional(),
    ngram: number('ngram').int().positive().optional(),
    'ngram-dedup': number('ngram-dedup').min(0).max(1).optional(),
  })
  .superRefine((o, context) => {
    if (o.embed && o['embed-base-url']) {
      context.addIssue({
        code: 'custom',
        path: ['embed'],
        message: 'use either --embed or --embed-base-url',
      });
    }
    if (o['embed-base-url'] && !o['embed-model']) {
      context.addIssue({
        code: 'custom',
        path: ['embed-model'],
        message: 'is required with --embed-base-url',
      });
    }
  });

function nonBlankLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { options: o } = parseCommandLine(argv, flags, optionsSchema);
  const trainText = readFileSync(o.train, 'utf8');
  const train = parseJsonl(trainText, o.train);
  const test = o.test ? parseJsonl(readFileSync(o.test, 'utf8'), o.test) : undefined;

  let embed: EmbeddingFunction | undefined;
  if (o.embed) {
    const model = await loadModelSource({
      flag: '--embed',
      source: o.embed.slice('local:'.length),
      tokenizer: o.tokenizer,
    });
    embed = localEmbedder(new FrozenModel(baseWeightsFromModel(model)), trainingTokenizerFromModel(model));
  } else if (o['embed-base-url'] && o['embed-model']) {
    const apiKey = process.env[o['embed-api-key-env'] ?? 'OPENAI_API_KEY'];
    embed = endpointEmbedder({
      baseURL: o['embed-base-url'],
      model: o['embed-model'],
      ...(apiKey ? { apiKey } : {}),
    });
  }
  const report = await checkData({
    train,
    ...(test ? { test } : {}),
    ...(embed ? { embed } : {}),
    options: {
      ...(o.dedup !== undefined ? { dedupThreshold: o.dedup } : {}),
      ...(o.contamination !== undefined ? { contaminationThreshold: o.contamination } : {}),
      ...(o.ngram !== undefined ? { ngram: o.ngram } : {}),
      ...(o['ngram-dedup'] !== undefined ? { ngramDedupThreshold: o['ngram-dedup'] } : {}),
    },
    onProgress: (event) => {
      if (event.type === 'embedding-start')
        io.stderr.write(`embedding ${event.count} ${event.set} records...\n`);
      if (event.type === 'check-end') io.stderr.write(`${event.check}: ${event.removed} removed\n`);
    },
  });
  const files = writeDataCheckReport(o.out, report, nonBlankLines(trainText), {
    train: o.train,
    ...(o.test ? { test: o.test } : {}),
  });
  const duplicates = report.removed.filter((r) => r.reason === 'duplicate').length;
  io.stdout.write(
    `kept ${report.kept.length}\nduplicates ${duplicates}\ncontaminated ${report.removed.length - duplicates}\ncleaned ${files.cleaned}\nreport ${files.markdown}\n`,
  );
  return 0;
}

export const dataCheckCommand: Command = {
  name: ['data', 'check'],
  summary: 'remove near-duplicates and test-set contamination from a JSONL training set',
  help,
  flags,
  run,
};
