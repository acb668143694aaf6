// A subcommand of `meld`. Each lives in its own file under commands/ and is listed in commands/index.ts.
// Commands parse their own flags (node:util parseArgs + zod) and keep logic in the packages.

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command {
  /** Words after `meld`, e.g. ['inspect'] or ['lora', 'merge']. */
  readonly name: readonly string[];
  /** One line for `meld --help`. */
  readonly summary: string;
  /** Full help text for `meld NAME --help`. */
  readonly help: string;
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
