// Progress bars for long commands (finetune, merge, lora apply): a cli-progress bar on stderr, or
// nothing when stderr is not a terminal (pipes, CI, tests) or the user asked for none.
import cliProgress from 'cli-progress';
import type { CommandIO } from './command';

export interface ProgressBarSettings {
  /** cli-progress format, e.g. 'train [{bar}] {value}/{total} | ETA {eta}'. */
  readonly format: string;
  /** false (e.g. --no-progress) gives no bar. Default true. */
  readonly enabled?: boolean;
  readonly barsize?: number;
  /** Seconds-of-history for the ETA estimate (cli-progress etaBuffer). */
  readonly etaBuffer?: number;
}

/** Whether the command's stderr is an interactive terminal. */
export function stderrIsTerminal(io: CommandIO): boolean {
  return (io.stderr as NodeJS.WriteStream).isTTY === true;
}

/** A bar on stderr, or undefined when stderr is not a terminal or `enabled` is false. */
export function createProgressBar(
  io: CommandIO,
  settings: ProgressBarSettings,
): cliProgress.SingleBar | undefined {
  if (settings.enabled === false || !stderrIsTerminal(io)) return undefined;
  return new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WriteStream,
      format: settings.format,
      hideCursor: true,
      ...(settings.barsize !== undefined ? { barsize: settings.barsize } : {}),
      ...(settings.etaBuffer !== undefined ? { etaBuffer: settings.etaBuffer } : {}),
    },
    cliProgress.Presets.shades_classic,
  );
}
