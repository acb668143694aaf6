// meld convert: write a model as a Hugging Face folder or a GGUF file.
import { convertModel } from '@meld/runtime';
import { z } from 'zod';
import type { Command, CommandIO } from '../command';
import { secondsSince } from '../format';
import { contextFlag, contextLengthSchema, loadModelSource } from '../options/model-source';
import { expectPositionals, parseCommandLine } from '../options/parse';
import { printWarnings } from '../output';

const help = `meld convert SOURCE [--tokenizer FILE] --to hf|gguf [--dtype f32|f16|bf16|q8_0] OUT

Loads SOURCE (llama2.c .bin, GGUF, HF folder or hf:owner/repo) and writes it to OUT:
  --to hf      a Hugging Face folder: config.json, model.safetensors, tokenizer.json,
               tokenizer_config.json, generation_config.json (dtype f32, f16 or bf16)
  --to gguf    a GGUF file for llama.cpp (dtype f32, f16 or q8_0; norms stay f32, matrices whose
               rows are not whole 32-value blocks are written f16 under q8_0)

Options:
  --to FORMAT        hf or gguf (required)
  --dtype TYPE       weight type: f32, f16, bf16 (hf only) or q8_0 (gguf only) (default f32)
  --tokenizer FILE   tokenizer for a llama2.c checkpoint (default: beside it)
  --context N        override the context length written to the output (default: SOURCE's)
  --help             this text

Example:
  meld convert stories260K.bin --tokenizer tok512.bin --to gguf --dtype f16 stories260K-f16.gguf
`;

const flags = {
  to: { type: 'string' },
  dtype: { type: 'string' },
  tokenizer: { type: 'string' },
  ...contextFlag,
} as const;

const optionsSchema = z.object({
  to: z.enum(['hf', 'gguf'], { error: '--to must be hf or gguf' }),
  dtype: z.enum(['f32', 'f16', 'bf16', 'q8_0']).default('f32'),
  tokenizer: z.string().optional(),
  context: contextLengthSchema,
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandLine(argv, flags, optionsSchema, { positionals: true });
  const [source, out] = expectPositionals(parsed.positionals, ['SOURCE', 'OUT']);
  const { options } = parsed;
  const started = performance.now();
  const model = await loadModelSource({
    flag: 'SOURCE',
    source: source,
    tokenizer: options.tokenizer,
    contextLength: options.context,
  });
  const { warnings } = convertModel(model, out, { to: options.to, dtype: options.dtype });
  printWarnings(io, warnings);
  io.stderr.write(`wrote ${out} (${options.to}, ${options.dtype}) in ${secondsSince(started)} s\n`);
  return 0;
}

export const convertCommand: Command = {
  name: ['convert'],
  summary: 'convert a model to a Hugging Face folder or a GGUF file (f32, f16, q8_0)',
  help,
  flags,
  run,
};
