import type { Command } from '../command';
import { inspectCommand } from './inspect';

/** Every subcommand of `meld`, in the order `meld --help` lists them. */
export const commands: readonly Command[] = [inspectCommand];
