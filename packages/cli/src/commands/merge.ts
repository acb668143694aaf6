// meld merge: mergekit-style model merging from a YAML config (logic in @meld/model-merge).
import { parseArgs } from 'node:util';
import { type MergeProgressEvent, mergeModels } from '@meld/model-merge';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';

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
  --overwrite             replace OUT_DIR if it exists and is not empty
  --no-progress           no progress bar (also off when stderr is not a terminal)
  --help                  this text
`;

const units: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  KI: 2 ** 10,
  MI: 2 ** 20,
  GI: 2 ** 30,
  TI: 2 ** 40,
};

/** '5G' → 5e9, '500M' → 5e8, '2Gi' → 2^31, '1000' → 1000 (a trailing B is allowed). */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?\s*$/i.exec(text);
  if (!match) throw new UsageError(`'${text}' is not a size (e.g. 500M, 5G, 2Gi)`);
  const unit = units[(match[2] ?? '').toUpperCase()];
  const bytes = Math.floor(Number(match[1]) * unit!);
  if (!(bytes > 0)) throw new UsageError(`size '${text}' must be positive`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** A progress bar over input bytes (tensors and ETA shown), or nothing when disabled. */
export function progressReporter(io: CommandIO, enabled: boolean): (event: MergeProgressEvent) => void {
  const stream = io.stderr as NodeJS.WriteStream;
  if (!enabled || !stream.isTTY) return () => {};
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        ' {bar} {percentage}% | {tensors}/{total_tensors} tensors | {done} of {all} | ETA {eta_formatted} | {name}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let totalTensors = 0;
  return (event) => {
    if (event.type === 'plan-ready') {
      totalTensors = event.tensors;
      bar.start(Math.max(1, event.inputBytes), 0, {
        tensors: 0,
        total_tensors: totalTensors,
        done: '0 B',
        all: formatBytes(event.inputBytes),
        name: '',
      });
    } else if (event.type === 'tensor-start') {
      bar.update({ name: event.name });
    } else if (event.type === 'tensor-end') {
      bar.update(event.inputBytesDone, { tensors: event.index + 1, done: formatBytes(event.inputBytesDone) });
    } else if (event.type === 'merge-finished') bar.stop();
  };
}

const optionsSchema = z.object({
  'out-shard-size': z.string().default('5G'),
  seed: z.coerce.number().int().min(0).optional(),
  dtype: z
    .enum(['float32', 'float16', 'bfloat16'], { error: '--dtype must be float32, float16 or bfloat16' })
    .optional(),
  overwrite: z.boolean().default(false),
  'no-progress': z.boolean().default(false),
});

const dtypeOf = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' } as const;

async function run(argv: string[], io: CommandIO): Promise<number> {
  let parsedArgs: ReturnType<typeof parseArgs>;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: {
        'out-shard-size': { type: 'string' },
        seed: { type: 'string' },
        dtype: { type: 'string' },
        overwrite: { type: 'boolean' },
        'no-progress': { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [configPath, outputDir, ...extra] = parsedArgs.positionals;
  if (!configPath || !outputDir || extra.length > 0) throw new UsageError('expected CONFIG.yml and OUT_DIR');
  const parsed = optionsSchema.safeParse(parsedArgs.values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const options = parsed.data;
  const onProgress = progressReporter(io, !options['no-progress']);
  const result = mergeModels({
    configPath,
    outputDir,
    outShardBytes: parseByteSize(options['out-shard-size']),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.dtype ? { outDType: dtypeOf[options.dtype] } : {}),
    overwrite: options.overwrite,
    onProgress,
  });
  for (const warning of result.warnings) io.stderr.write(`warning: ${warning}\n`);
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
  run,
};
