// meld convert: write a model as a Hugging Face folder or a GGUF file.
import { parseArgs } from 'node:util';
import { convertModel, loadModel } from '@meld/runtime';
import { z } from 'zod';
import { type Command, type CommandIO, UsageError } from '../command';

const help = `meld convert SOURCE [--tokenizer FILE] --to hf|gguf [--dtype f32|f16|bf16|q8_0] OUT

Loads SOURCE (llama2.c .bin, GGUF, HF folder or hf:owner/repo) and writes it to OUT:
  --to hf      a Hugging Face folder: config.json, model.safetensors, tokenizer.json,
               tokenizer_config.json, generation_config.json (dtype f32, f16 or bf16)
  --to gguf    a GGUF file for llama.cpp (dtype f32, f16 or q8_0; norms stay f32, matrices whose
               rows are not whole 32-value blocks are written f16 under q8_0)

Options:
  --to FORMAT        hf or gguf (required)
  --dtype TYPE       weight type (default f32)
  --tokenizer FILE   tokenizer for a llama2.c checkpoint (default: beside it)
  --context N        override the context length written to the output
  --help             this text
`;

const optionsSchema = z.object({
  to: z.enum(['hf', 'gguf'], { error: '--to must be hf or gguf' }),
  dtype: z.enum(['f32', 'f16', 'bf16', 'q8_0']).default('f32'),
  tokenizer: z.string().optional(),
  context: z.coerce.number().int().positive().optional(),
});

async function run(argv: string[], io: CommandIO): Promise<number> {
  let parsedArgs: ReturnType<typeof parseArgs>;
  try {
    parsedArgs = parseArgs({
      args: argv,
      options: {
        to: { type: 'string' },
        dtype: { type: 'string' },
        tokenizer: { type: 'string' },
        context: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [source, out, ...extra] = parsedArgs.positionals;
  if (!source || !out || extra.length > 0) throw new UsageError('expected SOURCE and OUT');
  const parsed = optionsSchema.safeParse(parsedArgs.values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const options = parsed.data;
  const started = performance.now();
  const model = await loadModel(source, {
    ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
    ...(options.context ? { contextLength: options.context } : {}),
  });
  const { warnings } = convertModel(model, out, { to: options.to, dtype: options.dtype });
  for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`);
  io.stderr.write(
    `wrote ${out} (${options.to}, ${options.dtype}) in ${((performance.now() - started) / 1000).toFixed(2)} s\n`,
  );
  return 0;
}

export const convertCommand: Command = {
  name: ['convert'],
  summary: 'convert a model to a Hugging Face folder or a GGUF file (f32, f16, q8_0)',
  help,
  run,
};
