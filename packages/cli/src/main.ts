import type { Command, CommandIO } from './command';
import { commands } from './commands/index';
import { exitCodes, reportError } from './output';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length), 8);
  const lines = commands.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'meld: model, KV-cache and context merging for LLMs, in Node.js',
    '',
    'Usage: meld COMMAND [options]     (meld COMMAND --help for details)',
    '',
    'Commands:',
    ...lines,
    '',
    'Exit codes: 0 success, 1 failure (bad file, failed job), 2 usage error (unknown flag, bad value).',
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of commands) {
    const n = command.name.length;
    if (argv.length >= n && command.name.every((word, i) => argv[i] === word)) {
      if (!best || n > best.command.name.length) best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

/** Runs `meld` with the given arguments; returns the exit code. */
export async function main(
  argv: string[],
  io: CommandIO = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(overview());
    return argv.length === 0 ? exitCodes.usage : exitCodes.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr.write(`meld: unknown command '${argv.join(' ')}'\n\n${overview()}`);
    return exitCodes.usage;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.help.trimEnd()}\n`);
    return exitCodes.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(io, command.name, error);
  }
}
