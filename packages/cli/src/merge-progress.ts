// The progress bar of meld merge and meld lora apply: input bytes read, tensors done, ETA.
import type { MergeProgressEvent } from '@meld/model-merge';
import type { CommandIO } from './command';
import { formatBytes } from './format';
import { createProgressBar } from './progress';

/** A progress bar over input bytes (tensors and ETA shown), or nothing when disabled. */
export function mergeProgressBar(io: CommandIO, enabled: boolean): (event: MergeProgressEvent) => void {
  const bar = createProgressBar(io, {
    enabled,
    format:
      ' {bar} {percentage}% | {tensors}/{total_tensors} tensors | {done} of {all} | ETA {eta_formatted} | {name}',
    etaBuffer: 50,
  });
  if (!bar) return () => {};
  let totalTensors = 0;
  return (event) => {
    if (event.type === 'plan-ready') {
      totalTensors = event.tensors;
      bar.start(Math.max(1, event.inputBytes), 0, {
        tensors: 0,
        total_tensors: totalTensors,
        done: '0 B',
        all: formatBytes(event.inputBytes),
        name: '',
      });
    } else if (event.type === 'tensor-start') {
      bar.update({ name: event.name });
    } else if (event.type === 'tensor-end') {
      bar.update(event.inputBytesDone, { tensors: event.index + 1, done: formatBytes(event.inputBytesDone) });
    } else if (event.type === 'merge-finished') bar.stop();
  };
}
