// meld perplexity: mean negative log-likelihood and perplexity of a model over a text file.
import { readFileSync } from 'node:fs';
import { perplexity } from '@meld/runtime';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { loadModelSource, modelFlags, modelFlagsHelp, modelSchema } from '../options/model-source';
import { parseCommandLine } from '../options/parse';

const help = `meld perplexity --model SOURCE --text-file FILE [--context N] [--stride N]

Scores every token of FILE (encoded with BOS) with sliding windows and prints, on stdout,
  mean_nll <nats per token>
  perplexity <exp(mean_nll)>
  tokens <scored tokens>

Options:
${modelFlagsHelp(21)}  --text-file FILE   the text (required)
  --context N        window length in tokens (default: the model's context length)
  --stride N         how far each window advances (default: context / 2); each token is
                     scored once, with the preceding part of its window as context
  --max-tokens N     score at most N tokens (default: the whole file)
  --help             this text

Example:
  meld perplexity --model stories260K.bin --tokenizer tok512.bin --text-file story.txt --context 256
`;

const flags = {
  ...modelFlags,
  'text-file': { type: 'string' },
  context: { type: 'string' },
  stride: { type: 'string' },
  'max-tokens': { type: 'string' },
} as const;

const optionsSchema = z.object({
  ...modelSchema,
  'text-file': z.string({ error: '--text-file is required' }).min(1),
  context: z.coerce.number().int().min(2).optional(),
  stride: z.coerce.number().int().positive().optional(),
  'max-tokens': z.coerce.number().int().positive().optional(),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { options } = parseCommandLine(argv, flags, optionsSchema);
  const model = await loadModelSource({
    flag: '--model',
    source: options.model,
    tokenizer: options.tokenizer,
  });
  const text = readFileSync(options['text-file'], 'utf8');
  const started = performance.now();
  const result = perplexity(model, text, {
    ...(options.context ? { context: options.context } : {}),
    ...(options.stride ? { stride: options.stride } : {}),
    ...(options['max-tokens'] ? { maxTokens: options['max-tokens'] } : {}),
  });
  io.stdout.write(
    `mean_nll ${result.meanNll.toFixed(6)}\nperplexity ${result.perplexity.toFixed(4)}\ntokens ${result.scoredTokens}\n`,
  );
  const seconds = (performance.now() - started) / 1000;
  io.stderr.write(`${result.windows} windows, ${(result.scoredTokens / seconds).toFixed(1)} tok/s\n`);
  return 0;
}

export const perplexityCommand: Command = {
  name: ['perplexity'],
  summary: 'mean NLL and perplexity of a model over a text file',
  help,
  flags,
  run,
};
