// meld-summarize's entry: `score` or a summarisation run; errors print one line, not a stack trace.
import { LLMError } from '@meld/llm';
import type { CommandIO } from './io';
import { runCommand } from './run-command';
import { scoreCommand } from './score-command';

export async function main(argv: string[], io: CommandIO): Promise<number> {
  try {
    if (argv[0] === 'score') return await scoreCommand(argv.slice(1), io);
    return await runCommand(argv, io);
  } catch (error) {
    if (LLMError.isInstance(error)) {
      io.stderr.write(`meld-summarize: ${error.message}\n`);
      return error.code === 'validation' ? 2 : 1;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`meld-summarize: ${error.message} (see --help)\n`);
      return 2;
    }
    throw error;
  }
}
