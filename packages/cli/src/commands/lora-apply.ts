// meld lora apply: merge and unload a LoRA adapter into a base model (W + s·B·A).
import { applyLoraAdapter } from '@meld/model-merge';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { formatBytes, secondsSince } from '../format';
import { mergeProgressBar } from '../merge-progress';
import { parseByteSize } from '../options/byte-size';
import { expectPositionals, parseCommandLine } from '../options/parse';

const help = `meld lora apply --base MODEL --adapter ADAPTER OUT

Writes MODEL with the adapter merged in (PEFT's merge_and_unload): every targeted weight becomes
W + multiplier * s * B A with s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora,
rank_pattern / alpha_pattern honoured); modules_to_save tensors replace the base's. Other
tensors are copied unchanged, in their dtype. config.json and tokenizer files come from MODEL.

Options:
  --base MODEL           base model folder (safetensors, single or sharded; required)
  --adapter ADAPTER      PEFT adapter folder (required)
  --multiplier X         scale every delta by X (default 1)
  --out-shard-size SIZE  largest output shard, e.g. 500M, 5G (default 5G)
  --overwrite            replace OUT if it exists (default: refuse)
  --no-progress          no progress bar (default: a bar when stderr is a terminal)
  --help                 this text

Example:
  meld lora apply --base base/ --adapter adapter/ merged/
`;

const flags = {
  base: { type: 'string' },
  adapter: { type: 'string' },
  multiplier: { type: 'string' },
  'out-shard-size': { type: 'string' },
  overwrite: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
} as const;

const optionsSchema = z.object({
  base: z.string({ error: '--base is required' }),
  adapter: z.string({ error: '--adapter is required' }),
  multiplier: z.coerce.number().finite().default(1),
  'out-shard-size': z.string().default('5G'),
  overwrite: z.boolean().default(false),
  'no-progress': z.boolean().default(false),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [out] = expectPositionals(parsed.positionals, ['OUT']);
  const { options } = parsed;
  const started = performance.now();
  let bytes = 0;
  const bar = mergeProgressBar(io, !options['no-progress']);
  const result = applyLoraAdapter({
    base: options.base,
    adapter: options.adapter,
    outputDir: out,
    multiplier: options.multiplier,
    outShardBytes: parseByteSize(options['out-shard-size']),
    overwrite: options.overwrite,
    onProgress: (event) => {
      if (event.type === 'tensor-end') bytes = event.outputBytes;
      bar(event);
    },
  });
  io.stderr.write(
    `applied ${result.modulesApplied} LoRA modules (${result.tensorsReplaced} saved modules replaced) into ${out}: ` +
      `${formatBytes(bytes)} in ${result.files.join(', ')}, ${secondsSince(started)} s\n`,
  );
  return 0;
}

export const loraApplyCommand: Command = {
  name: ['lora', 'apply'],
  summary: 'merge a LoRA adapter into a base model and write the full model',
  help,
  flags,
  run,
};
