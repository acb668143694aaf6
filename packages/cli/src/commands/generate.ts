// meld generate: stream a model's continuation of a prompt to stdout, exactly as llama2.c's run
// prints it (the prompt, then the generated text, then a newline); timings go to stderr.
import { readFileSync } from 'node:fs';
import { kvPolicyNames } from '@meld/kv-cache';
import { type ActiveAdapter, loadLoraAdapter } from '@meld/runtime';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';
import { kvCacheFlags, kvCacheSchema, resolveKVFlags } from '../options/kv-cache';
import {
  contextFlag,
  contextLengthSchema,
  loadModelSource,
  modelFlags,
  modelSchema,
} from '../options/model-source';
import { parseCommandLine } from '../options/parse';
import { samplingFlags, samplingFromFlags, samplingSchema } from '../options/sampling';
import { printWarnings } from '../output';
import { homerFlags, homerHelp, homerSchema, runHomerGenerate } from './generate-homer';

const help = `meld generate --model SOURCE [options]

Streams the prompt followed by the generated text to stdout (nothing else); timings and tokens/s
go to stderr. Output matches llama2.c's \`run\` for the same model, prompt, steps and temperature 0.

SOURCE is a llama2.c checkpoint (.bin), a GGUF file, a Hugging Face model folder, or
hf:owner/repo[@revision] (downloaded into ~/.cache/meld; HF_HUB_OFFLINE=1 uses the cache only).

Options:
  --model SOURCE        the model (required)
  --tokenizer FILE      tokenizer.bin for a llama2.c checkpoint (default: tokenizer.bin / tok*.bin beside
                        it), or a tokenizer.json replacing the vocabulary of a GGUF file or HF folder
  --prompt TEXT         the prompt (default: empty, generation starts from BOS)
  --prompt-file FILE    read the prompt from a file instead (default: use --prompt)
  --max-tokens N        generate at most N new tokens (default: up to --steps)
  --steps N             llama2.c's -n: positions in total, BOS and prompt included (default 256;
                        0 or more than the context = the whole context). Ignored with --max-tokens
  --temperature T       0 = greedy (argmax); default 1.0
  --top-k K             keep the K most likely tokens (default 0 = off)
  --top-p P             nucleus sampling: keep the smallest set with probability >= P (default 0.9, 1 = off)
  --min-p P             drop tokens less likely than P times the most likely one (default 0 = off)
  --repetition-penalty R  divide the logits of tokens already seen by R (default 1 = off)
  --stop TEXT           stop when TEXT is generated (repeatable; default none); TEXT is not printed
  --seed S              random seed for sampling (default: time)
  --adapter DIR[:W]     apply a PEFT LoRA adapter at run time with weight W (default 1); repeatable
  --context N           override the context length the model file declares (default: the file's)
  --kv-policy NAME      KV-cache compression policy: ${kvPolicyNames.join(', ')} (default full)
  --kv-budget B         KV slots kept per layer and head: a ratio below 1 or ending in % (0.35, 35%)
                        of the tokens seen, or a token count >= 1 (512); required unless the policy is full
  --kv-param KEY=VALUE  a policy parameter (repeatable), e.g. threshold=0.8 for kvmerger
  --kv-every N          also compress while decoding, every N steps (default 0: only the prompt)
                        At the end, kv_bytes=N peak_kv_bytes=N are printed on stderr.
${homerHelp}  --help                this text

Example:
  meld generate --model stories260K.bin --tokenizer tok512.bin --temperature 0 --steps 64
`;

const flags = {
  ...modelFlags,
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  'max-tokens': { type: 'string' },
  steps: { type: 'string' },
  ...samplingFlags,
  adapter: { type: 'string', multiple: true },
  ...contextFlag,
  ...kvCacheFlags,
  ...homerFlags,
} as const;

const optionsSchema = z
  .object({
    ...modelSchema,
    prompt: z.string().optional(),
    'prompt-file': z.string().optional(),
    'max-tokens': z.coerce.number().int().positive().optional(),
    steps: z.coerce.number().int().min(0).default(256),
    ...samplingSchema,
    adapter: z.array(z.string()).default([]),
    context: contextLengthSchema,
    ...kvCacheSchema,
    ...homerSchema,
  })
  .superRefine((value, context) => {
    if (value.prompt !== undefined && value['prompt-file'] !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['prompt-file'],
        message: 'give --prompt or --prompt-file, not both',
      });
    }
  });

export function parseAdapterSpec(spec: string): { folder: string; weight: number } {
  const match = /^(.*):(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/.exec(spec);
  if (!match) return { folder: spec, weight: 1 };
  return { folder: match[1]!, weight: Number(match[2]) };
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { options } = parseCommandLine(argv, flags, optionsSchema);
  const kv = resolveKVFlags(options);
  const model = await loadModelSource({
    flag: '--model',
    source: options.model,
    tokenizer: options.tokenizer,
    contextLength: options.context,
  });
  const adapters: ActiveAdapter[] = options.adapter.map((spec) => {
    const { folder, weight } = parseAdapterSpec(spec);
    const adapter = loadLoraAdapter(folder);
    printWarnings(io, adapter.warnings);
    return { adapter, weight };
  });
  const prompt =
    options['prompt-file'] !== undefined
      ? readFileSync(options['prompt-file'], 'utf8')
      : (options.prompt ?? '');
  const sampling = samplingFromFlags(options);
  // --long-context homer: a separate path (generate-homer.ts) that reads inputs past the context.
  if (options['long-context'] === 'homer') {
    if (adapters.length > 0) throw new UsageError('--adapter is not supported with --long-context');
    return runHomerGenerate(
      model,
      prompt,
      {
        model: options.model,
        prefix: options.prefix,
        suffix: options.suffix,
        calibration: options['homer-calibration'],
        maxTokens: options['max-tokens'],
        sampling,
        createCache: options['kv-policy'] === 'full' ? undefined : (shape) => kv.createCache(shape),
      },
      io,
    );
  }
  const tokens = model.encode(prompt);
  if (tokens.length === 0)
    throw new UsageError('the prompt encodes to no tokens and the tokenizer adds no BOS');
  const contextLength = model.config.contextLength;
  const steps = options.steps <= 0 || options.steps > contextLength ? contextLength : options.steps;
  const maxTokens = options['max-tokens'] ?? steps - tokens.length + 1;
  if (maxTokens < 1) {
    throw new UsageError(`--steps ${steps} leaves no room after the ${tokens.length}-token prompt`);
  }
  // The prompt as run.c prints it: each piece after the first (BOS) token.
  const echo = model.tokenizer.createDecoder(tokens[0]);
  let promptText = '';
  for (const token of tokens.slice(1)) promptText += echo.push(token);
  if (tokens[0] !== model.tokenizer.bosTokenId) promptText = model.tokenizer.decode(tokens);
  io.stdout.write(promptText);

  const cache = kv.createCache({
    layers: model.config.numLayers,
    kvHeads: model.config.numKVHeads,
    headDim: model.config.headDim,
  });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    for await (const event of model.generate(tokens, {
      ...sampling,
      maxTokens,
      adapters,
      cache,
      signal: controller.signal,
    })) {
      if (event.text) io.stdout.write(event.text);
      if (event.type === 'finish') {
        io.stdout.write('\n');
        const decodeRate =
          event.completionTokens > 1 ? ((event.completionTokens - 1) / event.decodeMs) * 1000 : 0;
        const prefillRate = (event.promptTokens / Math.max(event.prefillMs, 1e-3)) * 1000;
        io.stderr.write(
          `prompt ${event.promptTokens} tokens in ${event.prefillMs.toFixed(1)} ms (${prefillRate.toFixed(1)} tok/s); ` +
            `generated ${event.completionTokens} tokens, achieved tok/s: ${decodeRate.toFixed(1)} (${event.finishReason})\n`,
        );
        io.stderr.write(`kv_bytes=${cache.bytes()} peak_kv_bytes=${cache.peakBytes()}\n`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  return 0;
}

export const generateCommand: Command = {
  name: ['generate'],
  summary: 'stream text from a model (llama2.c .bin, GGUF, HF folder, hf:owner/repo)',
  help,
  flags,
  run,
};
