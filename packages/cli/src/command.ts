// A subcommand of `meld`. Each lives in its own file under commands/ and is listed in commands/index.ts.
// Commands declare their flags (node:util parseArgs config, validated with zod through
// options/parse.ts) and keep the logic in the packages.
import type { FlagSpecs } from './options/parse';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command {
  /** Words after `meld`, e.g. ['inspect'] or ['lora', 'merge']. */
  readonly name: readonly string[];
  /** One line for `meld --help`. */
  readonly summary: string;
  /** Full help text for `meld NAME --help`: every flag with its default, and an example. */
  readonly help: string;
  /** The flags `run` accepts (`--help` aside); help.test.ts checks each is explained in `help`. */
  readonly flags: FlagSpecs;
  /** Returns the process exit code. */
  run(argv: string[], io: CommandIO): Promise<number>;
}

/** A usage error: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
