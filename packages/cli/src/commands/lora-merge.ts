// meld lora merge: combine PEFT LoRA adapters into one (logic in @meld/model-merge).
import { combineLoraAdapters, writeAdapterFolder } from '@meld/model-merge';
import { readPeftAdapter } from '@meld/tensor-core';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';
import { loraCombinationFlags, loraCombinationSchema } from '../options/lora-combination';
import { expectPositionals, parseCommandLine, splitList } from '../options/parse';
import { printWarnings } from '../output';

const help = `meld lora merge --adapters A,B,... [--weights W1,W2,...] [--method METHOD] OUT

Combines PEFT LoRA adapters (folders with adapter_config.json + adapter_model.safetensors) into
one adapter written to OUT. Methods:
  mean                 MergeRepair: the weighted average of every A and every B separately
                       (equal weights unless --weights; keeps r and alpha)
  cat                  exact: B'A' = sum of w_i * s_i * B_i A_i, rank = sum of ranks
  svd                  exact up to rank: sum of w_i * s_i * B_i A_i, truncated SVD to --svd-rank
  ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd
                       PEFT's TIES / DARE / magnitude pruning on the full deltas, then SVD
  linear, ties, dare_linear, dare_ties, magnitude_prune
                       PEFT's semantics on the A and B stacks separately (sqrt weights);
                       not exact (cross terms B_i A_j), kept for compatibility
PEFT's scaling mistakes are fixed: svd variants weight each delta once, and merged adapters get
lora_alpha = r with use_rslora = false (scale 1).

Options:
  --adapters LIST        comma-separated adapter folders (required)
  --weights LIST         comma-separated weights (default 1 each; mean: equal)
  --method METHOD        one of the above (default svd)
  --density D            density for ties / dare / magnitude_prune (default 1)
  --majority-sign M      total or frequency (ties / dare_ties; default total)
  --svd-rank R           rank of svd outputs (default the largest input rank)
  --svd-clamp Q          clamp factors to the Q quantile of their values (0 < Q < 1; default off)
  --seed N               seed for DARE masks (default 0)
  --overwrite            replace OUT if it exists (default: refuse)
  --help                 this text

Example:
  meld lora merge --adapters math/,code/ --weights 0.7,0.3 --method cat merged-adapter/
`;

export function parseWeights(text: string | undefined, count: number): number[] | undefined {
  if (text === undefined) return undefined;
  const weights = splitList(text, '--weights').map(Number);
  if (weights.some((w) => !Number.isFinite(w)))
    throw new UsageError(`--weights: '${text}' is not a list of numbers`);
  if (weights.length !== count)
    throw new UsageError(`--weights has ${weights.length} values for ${count} adapters`);
  return weights;
}

const flags = {
  adapters: { type: 'string' },
  weights: { type: 'string' },
  ...loraCombinationFlags,
  'majority-sign': { type: 'string' },
  'svd-rank': { type: 'string' },
  'svd-clamp': { type: 'string' },
} as const;

const optionsSchema = z.object({
  adapters: z.string({ error: '--adapters is required' }),
  weights: z.string().optional(),
  ...loraCombinationSchema('svd'),
  'majority-sign': z.enum(['total', 'frequency']).default('total'),
  'svd-rank': z.coerce.number().int().positive().optional(),
  'svd-clamp': z.coerce.number().gt(0).lt(1).optional(),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [out] = expectPositionals(parsed.positionals, ['OUT']);
  const { options } = parsed;
  const folders = splitList(options.adapters, '--adapters');
  if (folders.length === 0) throw new UsageError('--adapters: give at least one adapter');
  const adapters = folders.map((folder) => readPeftAdapter(folder));
  const weights = parseWeights(options.weights, adapters.length);
  const result = combineLoraAdapters(adapters, {
    combination: options.method,
    ...(weights ? { weights } : {}),
    density: options.density,
    majoritySignMethod: options['majority-sign'],
    ...(options['svd-rank'] ? { svdRank: options['svd-rank'] } : {}),
    ...(options['svd-clamp'] ? { svdClamp: options['svd-clamp'] } : {}),
    seed: options.seed,
  });
  printWarnings(io, result.warnings);
  writeAdapterFolder(out, result.adapter, options.overwrite);
  io.stderr.write(
    `merged ${adapters.length} adapters (${options.method}) into ${out}: ${result.adapter.modules.size} modules, r=${result.adapter.config.r}, lora_alpha=${result.adapter.config.lora_alpha}\n`,
  );
  return 0;
}

export const loraMergeCommand: Command = {
  name: ['lora', 'merge'],
  summary: 'combine LoRA adapters (mean, cat, svd, ties_svd, dare_ties_svd, linear, ...)',
  help,
  flags,
  run,
};
