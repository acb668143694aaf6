// Optional cleanup (BooookScore's remove_artifacts prompt): drops phrases that betray the step-by-step
// process ("in this segment", "in the updated summary") and non-narrative material.
import type { LanguageModelV1 } from '@meld/llm';
import type { BooookScorePrompts } from './prompts';
import { loadPrompts } from './prompts';
import { formatTemplate } from './python-format';
import { complete, endsLikeSentence } from './summary-rules';
import { cl100kCounter, type TokenCounterV1 } from './token-counter';

export async function removeArtifacts(
  model: LanguageModelV1,
  summary: string,
  options: { prompts?: BooookScorePrompts; counter?: TokenCounterV1; signal?: AbortSignal } = {},
): Promise<{ summary: string; warnings: string[] }> {
  const { prompts = loadPrompts(), counter = cl100kCounter, signal } = options;
  const maxTokens = (await counter.count(summary)) + 100;
  const cleaned = await complete(
    { model, counter, signal },
    formatTemplate(prompts.removeArtifacts, [summary]),
    {
      maxTokens,
      temperature: 0,
    },
  );
  if (cleaned.length === 0 || !endsLikeSentence(cleaned)) {
    return { summary, warnings: ['remove-artifacts returned an unusable summary; kept the original'] };
  }
  return { summary: cleaned, warnings: [] };
}
