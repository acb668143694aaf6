// Progress bars per stage (chunking, each summary level, annotation) on stderr; plain lines when
// stderr is not a terminal.
import type { BooookScoreProgress } from '@meld/booookscore';
import cliProgress from 'cli-progress';
import type { CommandIO } from './io';

export interface StageProgress {
  stage(name: string, total: number): void;
  tick(name: string): void;
  log(line: string): void;
  onBooookScore(event: BooookScoreProgress): void;
  stop(): void;
}

export function createProgress(io: CommandIO, quiet: boolean): StageProgress {
  const interactive = !quiet && io.stderr.isTTY === true;
  const multibar = interactive
    ? new cliProgress.MultiBar(
        {
          format: ' {stage} |{bar}| {value}/{total} {eta_formatted}',
          hideCursor: true,
          clearOnComplete: false,
          stream: io.stderr as NodeJS.WritableStream,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<string, { bar?: cliProgress.SingleBar; value: number; total: number }>();
  const progress: StageProgress = {
    stage(name, total) {
      if (bars.has(name)) return;
      const bar = multibar?.create(total, 0, { stage: name.padEnd(18) });
      bars.set(name, { bar, value: 0, total });
      if (!multibar && !quiet) io.stderr.write(`${name}: ${total}\n`);
    },
    tick(name) {
      const entry = bars.get(name);
      if (!entry) return;
      entry.value++;
      entry.bar?.update(entry.value);
      if (!multibar && !quiet && entry.value === entry.total) io.stderr.write(`${name}: done\n`);
    },
    log(line) {
      if (quiet) return;
      if (multibar) multibar.log(`${line}\n`);
      else io.stderr.write(`${line}\n`);
    },
    onBooookScore(event) {
      switch (event.type) {
        case 'level-start':
          progress.stage(event.level === 0 ? 'summarize chunks' : `merge level ${event.level}`, event.inputs);
          break;
        case 'summary-end':
          if (event.workflow === 'incremental') {
            progress.stage('update summary', event.total);
            progress.tick('update summary');
          } else {
            const name = event.level === 0 ? 'summarize chunks' : `merge level ${event.level}`;
            const entry = bars.get(name);
            // a merge packs several inputs: advance to the last input it consumed
            if (entry) {
              const target = event.level === 0 ? entry.value + 1 : event.index + 1;
              while (entry.value < target) progress.tick(name);
            }
          }
          break;
        case 'sentence-annotated':
          progress.stage('annotate', event.total);
          progress.tick('annotate');
          break;
        case 'summary-retry':
          progress.log(
            `retry ${event.attempt} at level ${event.level}: ${event.reason}; word limit ${event.wordLimit}`,
          );
          break;
        case 'compress-start':
          progress.log(
            `compressing the summary before chunk ${event.index} to ~${event.expectedWords} words`,
          );
          break;
        case 'compress-end':
        case 'annotation-requery':
          break;
      }
    },
    stop() {
      multibar?.stop();
    },
  };
  return progress;
}
