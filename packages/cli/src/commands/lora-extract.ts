// meld lora extract: a PEFT adapter from the difference of two models (mergekit-extract-lora).
import { extractLora } from '@meld/model-merge';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { secondsSince } from '../format';
import { expectPositionals, parseCommandLine } from '../options/parse';

const help = `meld lora extract --base MODEL --tuned MODEL --rank R OUT

Writes a PEFT LoRA adapter approximating TUNED - BASE: every changed 2-D weight gets a truncated
SVD of its difference (A = sqrt(S) Vh, B = U sqrt(S)), rank = min(R, number of singular values
above --epsilon). The adapter has r = lora_alpha = the largest rank kept (scale 1), lower ranks in
rank_pattern / alpha_pattern, use_rslora false. Changed embeddings and lm_head (unless
--embed-lora) and changed 1-D tensors (norms) are saved whole as modules_to_save.

Options:
  --base MODEL       base model folder (required)
  --tuned MODEL      fine-tuned model folder (required)
  --rank R           largest rank per module (required)
  --epsilon E        drop singular values <= E (default 0)
  --embed-lora       give embeddings LoRA factors instead of saving them whole (default off)
  --overwrite        replace OUT if it exists (default: refuse)
  --help             this text

Example:
  meld lora extract --base base/ --tuned tuned/ --rank 8 extracted-adapter/
`;

const flags = {
  base: { type: 'string' },
  tuned: { type: 'string' },
  rank: { type: 'string' },
  epsilon: { type: 'string' },
  'embed-lora': { type: 'boolean' },
  overwrite: { type: 'boolean' },
} as const;

const optionsSchema = z.object({
  base: z.string({ error: '--base is required' }),
  tuned: z.string({ error: '--tuned is required' }),
  rank: z.coerce.number({ error: '--rank is required' }).int().positive(),
  epsilon: z.coerce.number().min(0).default(0),
  'embed-lora': z.boolean().default(false),
  overwrite: z.boolean().default(false),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [out] = expectPositionals(parsed.positionals, ['OUT']);
  const { options } = parsed;
  const started = performance.now();
  const result = extractLora({
    base: options.base,
    tuned: options.tuned,
    rank: options.rank,
    epsilon: options.epsilon,
    embedLora: options['embed-lora'],
    overwrite: options.overwrite,
    outputDir: out,
  });
  const ranks = [...result.ranks.values()];
  io.stderr.write(
    `extracted ${ranks.length} LoRA modules (ranks ${Math.min(...ranks, Infinity)}..${Math.max(...ranks, 0)}), ` +
      `${result.modulesToSave.length} modules saved whole, ${result.unchanged} tensors unchanged, into ${out} ` +
      `in ${secondsSince(started)} s\n`,
  );
  return 0;
}

export const loraExtractCommand: Command = {
  name: ['lora', 'extract'],
  summary: 'extract a LoRA adapter from the difference of two models (truncated SVD)',
  help,
  flags,
  run,
};
