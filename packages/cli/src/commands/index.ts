import type { Command } from '../command';

/** Every subcommand of `meld`, in the order `meld --help` lists them. */
export const commands: readonly Command[] = [];
