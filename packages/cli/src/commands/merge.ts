// meld merge: mergekit-style model merging from a YAML config (logic in @meld/model-merge).
import { mergeModels } from '@meld/model-merge';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { formatBytes } from '../format';
import { mergeProgressBar } from '../merge-progress';
import { parseByteSize } from '../options/byte-size';
import { expectPositionals, parseCommandLine } from '../options/parse';
import { printWarnings } from '../output';

const help = `meld merge CONFIG.yml OUT_DIR [options]

Merges models as a mergekit YAML config says (models or slices with layer_range, base_model,
merge_method, parameters as scalars, per-layer gradient lists or {filter, value} lists, dtype /
out_dtype, tokenizer_source). Input models are local folders of safetensors (single file or
shards + model.safetensors.index.json); relative paths resolve against the config's folder.
OUT_DIR gets model.safetensors (or shards + index), config.json, the base's tokenizer files,
mergekit_config.yml and a README holding the config. The merge is written into a hidden folder
beside OUT_DIR and renamed at the end: a killed or failed merge leaves OUT_DIR untouched.

Methods: linear, task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties,
della, della_linear, slerp, nuslerp, multislerp, karcher, model_stock, sce, ram, ramplus_tl,
nearswap, arcee_fusion, passthrough, and PEFT's flavours ties_peft, dare_ties_peft,
dare_linear_peft, magnitude_prune.

Options:
  --out-shard-size SIZE   largest output shard in bytes, with optional K/M/G (10^3) or Ki/Mi/Gi
                          (2^10) suffix, e.g. 500M, 5G (default 5G)
  --seed N                seed for DARE/DELLA masks (default: the config's random_seed, else 0)
  --dtype TYPE            output dtype, overrides the config: float32, float16 or bfloat16
                          (default: the config's out_dtype / dtype)
  --threads N             threads for large tensors, 1-64 (default: 2, or 1 on a one-core machine);
                          the output bytes are the same for any count
  --no-simd               run the plain JS kernels: slower, same output bytes (default: the
                          WebAssembly SIMD kernels where the host has them)
  --overwrite             replace OUT_DIR if it exists and is not empty (default: refuse)
  --no-progress           no progress bar (default: a bar when stderr is a terminal)
  --help                  this text

Example:
  meld merge linear.yml merged/ --out-shard-size 500M --dtype bfloat16
`;

const flags = {
  'out-shard-size': { type: 'string' },
  seed: { type: 'string' },
  dtype: { type: 'string' },
  threads: { type: 'string' },
  'no-simd': { type: 'boolean' },
  overwrite: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
} as const;

const optionsSchema = z.object({
  'out-shard-size': z.string().default('5G'),
  seed: z.coerce.number().int().min(0).optional(),
  dtype: z
    .enum(['float32', 'float16', 'bfloat16'], { error: '--dtype must be float32, float16 or bfloat16' })
    .optional(),
  threads: z.coerce
    .number({ error: '--threads must be an integer from 1 to 64' })
    .int({ error: '--threads must be an integer from 1 to 64' })
    .min(1, { error: '--threads must be an integer from 1 to 64' })
    .max(64, { error: '--threads must be an integer from 1 to 64' })
    .optional(),
  'no-simd': z.boolean().default(false),
  overwrite: z.boolean().default(false),
  'no-progress': z.boolean().default(false),
});

const dtypeOf = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' } as const;

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [configPath, outputDir] = expectPositionals(parsed.positionals, ['CONFIG.yml', 'OUT_DIR']);
  const { options } = parsed;
  const onProgress = mergeProgressBar(io, !options['no-progress']);
  const result = mergeModels({
    configPath,
    outputDir,
    outShardBytes: parseByteSize(options['out-shard-size']),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.dtype ? { outDType: dtypeOf[options.dtype] } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    simd: !options['no-simd'],
    overwrite: options.overwrite,
    onProgress,
  });
  printWarnings(io, result.warnings);
  const rate = result.inputBytes / Math.max(result.seconds, 1e-9);
  io.stderr.write(
    [
      `merged ${result.tensors} tensors (${result.copied} copied, ${result.dropped.length} dropped) into ${outputDir}`,
      `  read ${formatBytes(result.inputBytes)}, wrote ${formatBytes(result.outputBytes)} in ${result.files.length} file(s): ${result.files.join(', ')}`,
      `  ${result.seconds.toFixed(2)} s, ${formatBytes(rate)}/s`,
      '',
    ].join('\n'),
  );
  return 0;
}

export const mergeCommand: Command = {
  name: ['merge'],
  summary: 'merge models from a mergekit YAML config (ties, dare, slerp, model_stock, ...)',
  help,
  flags,
  run,
};
