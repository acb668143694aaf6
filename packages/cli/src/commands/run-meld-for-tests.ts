// Test helpers for the command tests: run `meld` with captured streams.
import { Writable } from 'node:stream';
import { main } from '../main';

function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function runMeld(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** `meld generate --model MODEL --temperature 0 ...extra` (greedy, so the text is deterministic). */
export function runGreedyGenerate(
  model: string,
  ...extra: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runMeld(['generate', '--model', model, '--temperature', '0', ...extra]);
}
