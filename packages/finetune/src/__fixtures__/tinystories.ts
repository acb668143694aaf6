// TEST-ONLY: the first stories of the shared TinyStories validation text, as {text} records.
import { readFileSync } from 'node:fs';
import { sharedFile } from '@meld/test-utils';
import type { TrainingRecord } from '../data/records';

export const tinystoriesFile = 'data/tinystories/tinystories_val.txt';

/** Stories split at 'Once upon a time' boundaries (blank lines also separate paragraphs). */
export function tinyStories(count: number, offset = 0): string[] {
  const text = readFileSync(sharedFile(tinystoriesFile), 'utf8');
  const stories = text
    .split(/\n\n(?=Once upon a time)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return stories.slice(offset, offset + count);
}

export function textRecords(stories: string[]): TrainingRecord[] {
  return stories.map((text) => ({ format: 'text', record: { text } }));
}
