// Reads the llama2.c reference outputs (REFERENCE.md beside stories260K) for tests.
import { readFileSync } from 'node:fs';

export interface ReferenceCase {
  readonly prompt: string;
  readonly steps: number;
  /** run.c's stdout exactly, trailing newline included. */
  readonly stdout: string;
}

export function readReferenceCases(path: string): ReferenceCase[] {
  const text = readFileSync(path, 'utf8');
  const cases: ReferenceCase[] = [];
  const pattern = /## \d+\. `run [^`]*?-n (\d+)(?: -i "([^"]*)")?`[^\n]*\n```text\n([\s\S]*?)```/g;
  for (const match of text.matchAll(pattern)) {
    cases.push({ steps: Number(match[1]), prompt: match[2] ?? '', stdout: match[3]! });
  }
  return cases;
}
