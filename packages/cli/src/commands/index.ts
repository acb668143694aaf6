import type { Command } from '../command';
import { convertCommand } from './convert';
import { dataCheckCommand } from './data-check';
import { finetuneCommand } from './finetune';
import { generateCommand } from './generate';
import { inspectCommand } from './inspect';
import { loraApplyCommand } from './lora-apply';
import { loraContinualCommand } from './lora-continual';
import { loraExtractCommand } from './lora-extract';
import { loraMergeCommand } from './lora-merge';
import { mergeCommand } from './merge';
import { perplexityCommand } from './perplexity';

/** Every subcommand of `meld`, in the order `meld --help` lists them. */
export const commands: readonly Command[] = [
  inspectCommand,
  generateCommand,
  convertCommand,
  perplexityCommand,
  finetuneCommand,
  dataCheckCommand,
  mergeCommand,
  loraMergeCommand,
  loraContinualCommand,
  loraApplyCommand,
  loraExtractCommand,
];
