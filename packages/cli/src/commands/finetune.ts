// meld finetune: LoRA fine-tuning of a local model on a JSONL file, writing a PEFT adapter.
import {
  baseWeightsFromModel,
  type FinetuneProgressEvent,
  finetune,
  readTrainingFile,
  trainingTokenizerFromModel,
} from '@meld/finetune';
import { setKernelThreads } from '@meld/tensor-core';
import type { SingleBar } from 'cli-progress';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { formatSeconds } from '../format';
import { loadModelSource, modelFlags, modelFlagsHelp, modelSchema } from '../options/model-source';
import { parseCommandLine } from '../options/parse';
import { printWarnings } from '../output';
import { createProgressBar, stderrIsTerminal } from '../progress';

const help = `meld finetune --model SOURCE --data FILE.jsonl --out ADAPTER_DIR [options]

Trains a LoRA adapter on a frozen base model (Platypus-style) and writes ADAPTER_DIR/
adapter_model.safetensors + adapter_config.json (PEFT's format; load it with
meld generate --adapter ADAPTER_DIR), trainer_state.json and loss-curve.svg.

Data: JSONL, one record per line, in any of these formats:
  {"instruction": ..., "input": ... (optional), "output": ...}   loss on output only
  {"messages": [{"role": "user"|"assistant"|"system", "content": ...}, ...]}
                                                                  loss on assistant turns only
  {"prompt": ..., "completion": ...}                              loss on completion only
  {"text": ...}                                                   loss on all tokens

Options:
${modelFlagsHelp(26)}  --data FILE             training data (required): JSONL, or .txt plain text (documents
                          separated by lines holding only <|endoftext|>; loss on all tokens)
  --out DIR               output folder for the adapter and checkpoints (required)
  --rank N                LoRA rank r (default 16)
  --alpha X               LoRA alpha (default 16); scale = alpha/r, or alpha/sqrt(r) with --rslora
  --dropout P             LoRA dropout on the adapted layers' inputs (default 0.05)
  --rslora                rank-stabilised scaling alpha/sqrt(r) (default off: alpha/r)
  --target-modules LIST   comma-separated module names, matched as name or '.'-suffix like PEFT
                          (default q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj);
                          'all-linear' for every attention and MLP linear; 'regex:PATTERN' for a
                          regular expression the whole module name must match
  --epochs N              passes over the data (default 1; fractions allowed)
  --lr X                  peak learning rate (default 3e-4); warm-up then cosine decay
  --warmup-steps N        warm-up steps (default 3% of the total)
  --schedule NAME         cosine (default), linear or constant
  --weight-decay X        AdamW weight decay (default 0)
  --max-grad-norm X       gradient clipping by global norm (default 1; 0 turns it off)
  --batch N               sequences per micro-batch (default 4)
  --grad-accum N          micro-batches per optimizer step (default 1)
  --seq-len N             tokens per sequence (default 256)
  --no-packing            one example per sequence (default: pack several per sequence, each
                          attending only to itself)
  --template NAME         prompt template: alpaca (default, as Platypus), chatml or plain
  --save-every N          save OUT/checkpoint-STEP/ every N optimizer steps (default 0: never)
  --resume                continue from OUT's latest checkpoint, same data and options (default off)
  --max-steps N           stop after N optimizer steps (default: run every epoch)
  --seed N                seed for LoRA init, dropout and shuffling (default 42)
  --threads N             threads for the matrix products (default 1)
  --help                  this text

Example:
  meld finetune --model stories260K.bin --tokenizer tok512.bin --data train.jsonl --out adapter/ \\
    --rank 4 --seq-len 64 --max-steps 10
`;

const flags = {
  ...modelFlags,
  data: { type: 'string' },
  out: { type: 'string' },
  rank: { type: 'string' },
  alpha: { type: 'string' },
  dropout: { type: 'string' },
  rslora: { type: 'boolean' },
  'target-modules': { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  'warmup-steps': { type: 'string' },
  schedule: { type: 'string' },
  'weight-decay': { type: 'string' },
  'max-grad-norm': { type: 'string' },
  batch: { type: 'string' },
  'grad-accum': { type: 'string' },
  'seq-len': { type: 'string' },
  'no-packing': { type: 'boolean' },
  template: { type: 'string' },
  'save-every': { type: 'string' },
  resume: { type: 'boolean' },
  'max-steps': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
} as const;

const number = (flag: string) => z.coerce.number({ error: `--${flag} must be a number` });

const optionsSchema = z.object({
  ...modelSchema,
  data: z.string({ error: '--data is required' }).min(1),
  out: z.string({ error: '--out is required' }).min(1),
  rank: number('rank').int().positive().optional(),
  alpha: number('alpha').positive().optional(),
  dropout: number('dropout').min(0).lt(1).optional(),
  rslora: z.boolean().optional(),
  'target-modules': z.string().min(1).optional(),
  epochs: number('epochs').positive().optional(),
  lr: number('lr').positive().optional(),
  'warmup-steps': number('warmup-steps').int().min(0).optional(),
  schedule: z.enum(['cosine', 'linear', 'constant']).optional(),
  'weight-decay': number('weight-decay').min(0).optional(),
  'max-grad-norm': number('max-grad-norm').min(0).optional(),
  batch: number('batch').int().positive().optional(),
  'grad-accum': number('grad-accum').int().positive().optional(),
  'seq-len': number('seq-len').int().min(2).optional(),
  'no-packing': z.boolean().optional(),
  template: z.string().optional(),
  'save-every': number('save-every').int().min(0).optional(),
  resume: z.boolean().optional(),
  'max-steps': number('max-steps').int().positive().optional(),
  seed: number('seed').int().optional(),
  threads: number('threads').int().positive().optional(),
});

/** PEFT semantics: a list matches by name or suffix; 'regex:P' is a full-match regex; 'all-linear'. */
export function parseTargetModules(value: string): string[] | string {
  if (value.startsWith('regex:')) return value.slice('regex:'.length);
  if (value === 'all-linear') return value;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function progressReporter(io: CommandIO): {
  onProgress: (event: FinetuneProgressEvent) => void;
  stop: () => void;
} {
  const tty = stderrIsTerminal(io);
  let bar: SingleBar | undefined;
  let lastLine = 0;
  return {
    onProgress(event) {
      switch (event.type) {
        case 'data-prepared':
          io.stderr.write(
            `data: ${event.examples} examples → ${event.rows} sequences, ${event.trainedTokens} trained tokens; ${event.totalSteps} optimizer steps\n`,
          );
          break;
        case 'resumed':
          io.stderr.write(`resuming from ${event.checkpoint} (step ${event.step})\n`);
          break;
        case 'checkpoint-saved':
          if (!tty) io.stderr.write(`saved ${event.path}\n`);
          break;
        case 'step-end': {
          const fields = {
            loss: event.loss.toFixed(4),
            tps: event.tokensPerSecond.toFixed(0),
            eta: formatSeconds(event.etaSeconds),
            lr: event.learningRate.toExponential(2),
          };
          if (tty) {
            if (!bar) {
              bar = createProgressBar(io, {
                format: 'train [{bar}] {value}/{total} | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta}',
                barsize: 30,
              });
              bar?.start(event.totalSteps, event.step - 1, fields);
            }
            bar?.update(event.step, fields);
          } else if (event.step === event.totalSteps || Date.now() - lastLine > 2000 || event.step === 1) {
            lastLine = Date.now();
            io.stderr.write(
              `step ${event.step}/${event.totalSteps} loss ${fields.loss} lr ${fields.lr} ${fields.tps} tok/s ETA ${fields.eta}\n`,
            );
          }
          break;
        }
        case 'train-end':
          bar?.stop();
          bar = undefined;
          break;
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { options: o } = parseCommandLine(argv, flags, optionsSchema);
  if (o.threads !== undefined) setKernelThreads(o.threads);
  const records = readTrainingFile(o.data);
  const model = await loadModelSource({ flag: '--model', source: o.model, tokenizer: o.tokenizer });
  const reporter = progressReporter(io);
  const started = performance.now();
  try {
    const result = await finetune({
      base: baseWeightsFromModel(model),
      tokenizer: trainingTokenizerFromModel(model),
      records,
      options: {
        outputDir: o.out,
        baseModel: o.model,
        lora: {
          ...(o.rank !== undefined ? { rank: o.rank } : {}),
          ...(o.alpha !== undefined ? { alpha: o.alpha } : {}),
          ...(o.dropout !== undefined ? { dropout: o.dropout } : {}),
          ...(o.rslora ? { useRslora: true } : {}),
          ...(o['target-modules'] ? { targetModules: parseTargetModules(o['target-modules']) } : {}),
        },
        ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
        ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
        ...(o['warmup-steps'] !== undefined ? { warmupSteps: o['warmup-steps'] } : {}),
        ...(o.schedule ? { schedule: o.schedule } : {}),
        ...(o['weight-decay'] !== undefined ? { weightDecay: o['weight-decay'] } : {}),
        ...(o['max-grad-norm'] !== undefined ? { maxGradNorm: o['max-grad-norm'] } : {}),
        ...(o.batch !== undefined ? { batchSize: o.batch } : {}),
        ...(o['grad-accum'] !== undefined ? { gradientAccumulation: o['grad-accum'] } : {}),
        ...(o['seq-len'] !== undefined ? { seqLen: o['seq-len'] } : {}),
        ...(o['no-packing'] ? { packing: false } : {}),
        ...(o.template ? { template: o.template } : {}),
        ...(o['save-every'] !== undefined ? { saveEvery: o['save-every'] } : {}),
        ...(o.resume ? { resume: true } : {}),
        ...(o['max-steps'] !== undefined ? { maxSteps: o['max-steps'] } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
      },
      onProgress: reporter.onProgress,
    });
    printWarnings(io, result.warnings);
    const last = result.lossHistory[result.lossHistory.length - 1];
    io.stdout.write(
      `adapter ${result.adapterDir}\nsteps ${result.steps}\nfinal_loss ${last ? last.loss.toFixed(6) : 'n/a'}\nloss_curve ${result.lossCurvePath}\n`,
    );
    io.stderr.write(
      `trained in ${formatSeconds((performance.now() - started) / 1000)}, ${result.tokensPerSecond.toFixed(0)} tok/s\n`,
    );
    return 0;
  } finally {
    reporter.stop();
  }
}

export const finetuneCommand: Command = {
  name: ['finetune'],
  summary: 'train a LoRA adapter (PEFT format) on a JSONL dataset',
  help,
  flags,
  run,
};
