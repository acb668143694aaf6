// meld perplexity: mean negative log-likelihood and perplexity of a model over a text file.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel, perplexity } from '@meld/runtime';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';

const help = `meld perplexity --model SOURCE --text-file FILE [--context N] [--stride N]

Scores every token of FILE (encoded with BOS) with sliding windows and prints, on stdout,
  mean_nll <nats per token>
  perplexity <exp(mean_nll)>
  tokens <scored tokens>

Options:
  --model SOURCE     llama2.c .bin, GGUF, HF folder or hf:owner/repo (required)
  --text-file FILE   the text (required)
  --tokenizer FILE   tokenizer for a llama2.c checkpoint (default: beside it)
  --context N        window length in tokens (default: the model's context length)
  --stride N         how far each window advances (default: context / 2); each token is
                     scored once, with the preceding part of its window as context
  --max-tokens N     score at most N tokens
  --help             this text
`;

const optionsSchema = z.object({
  model: z.string({ error: '--model is required' }).min(1),
  'text-file': z.string({ error: '--text-file is required' }).min(1),
  tokenizer: z.string().optional(),
  context: z.coerce.number().int().min(2).optional(),
  stride: z.coerce.number().int().positive().optional(),
  'max-tokens': z.coerce.number().int().positive().optional(),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'text-file': { type: 'string' },
        tokenizer: { type: 'string' },
        context: { type: 'string' },
        stride: { type: 'string' },
        'max-tokens': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const parsed = optionsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const options = parsed.data;
  const model = await loadModel(options.model, options.tokenizer ? { tokenizer: options.tokenizer } : {});
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
  run,
};
