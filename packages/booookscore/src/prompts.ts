// BooookScore's prompt templates (Python str.format), bundled in the package's prompts/ folder
// and loadable from any folder with the same layout (to try edited prompts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LLMValidationError } from '@meld/llm';
import { templatePlaceholders } from './python-format';

export interface BooookScorePrompts {
  hierarchical: { init: string; merge: string; mergeContext: string };
  incremental: { init: string; intermediate: string; compress: string };
  annotate: string;
  annotateBatched: string;
  removeArtifacts: string;
}

/** Relative file, and the `{}` count (or named placeholders) each template must have. */
const layout = {
  'hierarchical.init': ['get_summaries_hier/init.txt', 2],
  'hierarchical.merge': ['get_summaries_hier/merge.txt', 2],
  'hierarchical.mergeContext': ['get_summaries_hier/merge_context.txt', 3],
  'incremental.init': ['get_summaries_inc/init.txt', 1],
  'incremental.intermediate': ['get_summaries_inc/intermediate.txt', 2],
  'incremental.compress': ['get_summaries_inc/compress.txt', 4],
  annotate: ['get_annotations.txt', 2],
  annotateBatched: ['get_annotations_v2.txt', ['summary', 'sentences']],
  removeArtifacts: ['remove_artifacts.txt', 1],
} as const;

/** The prompts folder shipped with the package. */
export function bundledPromptsDirectory(): string {
  return fileURLToPath(new URL('../prompts', import.meta.url));
}

export function loadPrompts(directory: string = bundledPromptsDirectory()): BooookScorePrompts {
  const read: Record<string, string> = {};
  for (const [key, [file, expected]] of Object.entries(layout)) {
    const path = join(directory, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new LLMValidationError(`prompts.${key}`, `cannot read ${path}: ${error}`);
    }
    const found = templatePlaceholders(text);
    const ok =
      typeof expected === 'number'
        ? found.positional === expected && found.named.length === 0
        : found.positional === 0 && expected.every((name) => found.named.includes(name));
    if (!ok) {
      throw new LLMValidationError(
        `prompts.${key}`,
        `${path} must have ${typeof expected === 'number' ? `${expected} {} placeholders` : expected.map((name) => `{${name}}`).join(' and ')}`,
      );
    }
    read[key] = text;
  }
  return {
    hierarchical: {
      init: read['hierarchical.init'],
      merge: read['hierarchical.merge'],
      mergeContext: read['hierarchical.mergeContext'],
    },
    incremental: {
      init: read['incremental.init'],
      intermediate: read['incremental.intermediate'],
      compress: read['incremental.compress'],
    },
    annotate: read.annotate,
    annotateBatched: read.annotateBatched,
    removeArtifacts: read.removeArtifacts,
  };
}
