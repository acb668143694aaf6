// meld lora continual: MergeRepair's continual merging of adapters along an order.
import { continualMerge, continualWeights, writeAdapterFolder } from '@meld/model-merge';
import { readPeftAdapter } from '@meld/tensor-core';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';
import { loraCombinationFlags, loraCombinationSchema } from '../options/lora-combination';
import { expectPositionals, parseCommandLine, splitList } from '../options/parse';
import { printWarnings } from '../output';

const help = `meld lora continual --order A,B,C [--method METHOD] OUT

Merges adapters one after another (MergeRepair): M1 = A, Mk = combine(Mk-1, next). With the
default method (mean) each step is Mk = (Mk-1 + next)/2, so the last adapter ends with weight 1/2
and the first two with 2^-(n-1). With ties / dare_* each step calls the combination with weights
[1, 1], as MergeRepair calls PEFT's add_weighted_adapter.

Options:
  --order LIST           comma-separated adapter folders, in merge order (required)
  --method METHOD        mean (default), cat, svd, linear, ties, dare_ties, dare_linear, ties_svd, ...
  --step-weights W1,W2   weights of (previous merge, next adapter) at each step (default: the method's)
  --density D            density for ties / dare (default 1)
  --seed N               seed for DARE masks (default 0)
  --overwrite            replace OUT if it exists (default: refuse)
  --help                 this text

Example:
  meld lora continual --order task1/,task2/,task3/ continual-adapter/
`;

const flags = {
  order: { type: 'string' },
  ...loraCombinationFlags,
  'step-weights': { type: 'string' },
} as const;

const optionsSchema = z.object({
  order: z.string({ error: '--order is required' }),
  ...loraCombinationSchema('mean'),
  'step-weights': z.string().optional(),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [out] = expectPositionals(parsed.positionals, ['OUT']);
  const { options } = parsed;
  const folders = splitList(options.order, '--order');
  if (folders.length === 0) throw new UsageError('--order: give at least one adapter');
  let stepWeights: [number, number] | undefined;
  if (options['step-weights'] !== undefined) {
    const values = splitList(options['step-weights'], '--step-weights').map(Number);
    if (values.length !== 2 || values.some((v) => !Number.isFinite(v)))
      throw new UsageError('--step-weights takes two numbers');
    stepWeights = [values[0]!, values[1]!];
  }
  const result = continualMerge(
    folders.map((folder) => readPeftAdapter(folder)),
    {
      combination: options.method,
      density: options.density,
      seed: options.seed,
      ...(stepWeights ? { stepWeights } : {}),
    },
  );
  printWarnings(io, result.warnings);
  writeAdapterFolder(out, result.adapter, options.overwrite);
  const summary =
    options.method === 'mean' && !stepWeights
      ? ` (effective weights ${continualWeights(folders.length)
          .map((w) => w.toFixed(4))
          .join(', ')})`
      : '';
  io.stderr.write(
    `merged ${folders.length} adapters continually (${options.method}) into ${out}${summary}\n`,
  );
  return 0;
}

export const loraContinualCommand: Command = {
  name: ['lora', 'continual'],
  summary: 'merge LoRA adapters one after another along an order (MergeRepair)',
  help,
  flags,
  run,
};
