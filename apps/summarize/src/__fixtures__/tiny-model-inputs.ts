// Inputs for end-to-end runs on stories260K, whose 512-token context cannot hold the paper's prompts:
// the bundled prompts with short incremental-updating templates, and a three-paragraph story.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledPromptsDirectory } from '@meld/booookscore';

/** Writes `DIRECTORY/prompts` (for --prompts) and `DIRECTORY/story.txt`; returns both paths. */
export function writeTinyModelInputs(directory: string): { prompts: string; book: string } {
  const prompts = join(directory, 'prompts');
  cpSync(bundledPromptsDirectory(), prompts, { recursive: true });
  writeFileSync(join(prompts, 'get_summaries_inc', 'init.txt'), '{}\nThe end. Summary:');
  writeFileSync(join(prompts, 'get_summaries_inc', 'intermediate.txt'), '{}\n{}\nThe end. Summary:');
  writeFileSync(
    join(prompts, 'get_summaries_inc', 'compress.txt'),
    '{}\nIn {} words. Shorter: {} words. {}:',
  );
  const book = join(directory, 'story.txt');
  writeFileSync(
    book,
    'Once upon a time there was a little girl named Lily. She liked to play in the park.\n\n' +
      'One day she found a red ball. She was very happy.\n\nLily ran home to show her mom. Her mom smiled and hugged her.\n',
  );
  return { prompts, book };
}
