import { describe, expect, it } from 'vitest';
import { askedWordLimit, ScriptedModel, words } from './__fixtures__/scripted-model';
import { estimateLevelLimits, hierarchicalOptionsSchema, summarizeHierarchically } from './hierarchical';
import { loadPrompts } from './prompts';
import { formatTemplate } from './python-format';
import { countCl100k } from './token-counter';

const prompts = loadPrompts();
const mergeOverhead = countCl100k(formatTemplate(prompts.hierarchical.merge, ['', 0]));

describe('hierarchical merging rules', () => {
  it('derives level limits from the token budget: max·0.65^k, reversed', async () => {
    const settings = hierarchicalOptionsSchema.parse({ chunkSize: 2048, maxContextLength: 8192 });
    // 3 chunks of 2048 fit in 8192 - overhead - 20; then 450-token summaries: 17 per merge
    expect(Math.floor((8192 - mergeOverhead - 20) / 2048)).toBe(3);
    expect(await estimateLevelLimits(1, settings, mergeOverhead)).toEqual([900]);
    expect(await estimateLevelLimits(3, settings, mergeOverhead)).toEqual([900]);
    expect(await estimateLevelLimits(20, settings, mergeOverhead)).toEqual([585, 900]);
    expect(await estimateLevelLimits(160, settings, mergeOverhead)).toEqual([380, 585, 900]);
  });

  it('asks for round(limit·0.65) words and merges summaries packed as "Summary j:"', async () => {
    const model = new ScriptedModel((prompt) =>
      prompt.includes('Summary 1:') ? 'The merged story ends.' : `Part summary ${prompt.length}.`,
    );
    const chunks = Array.from(
      { length: 4 },
      (_, index) => `Chapter ${index}. ${'Text of the story goes on. '.repeat(20)}`,
    );
    const result = await summarizeHierarchically(model, chunks, {
      chunkSize: 2048,
      maxContextLength: 8192,
      prompts,
    });
    expect(result.summary).toBe('The merged story ends.');
    expect(result.levels.map((level) => level.length)).toEqual([4, 1]);
    const initCalls = model.calls.filter((call) => call.prompt.startsWith('Below is a part of a story'));
    expect(initCalls).toHaveLength(4);
    // four chunks of ~130 tokens fit in one context: the level-0 limit becomes the full 900 tokens
    for (const call of initCalls) {
      expect(askedWordLimit(call.prompt)).toBe(585);
      expect(call.parameters).toMatchObject({ maxTokens: 900, temperature: 0.5 });
    }
    const merge = model.calls[4];
    expect(merge.prompt).toContain('Below are several summaries of consecutive parts of a story');
    expect(merge.prompt).toContain('Summary 4:');
    expect(merge.prompt).not.toContain('Summary 5:');
  });

  it('uses level-wise limits and gives later merges the previous summary, cut to 20% of the budget at a period', async () => {
    // tight context: every level-1 merge holds two summaries, so the second merge gets context
    const model = new ScriptedModel((prompt) => {
      if (prompt.startsWith('Below is a part of a story')) return `${words(120, 'event')}`;
      return 'Merged sentence number one is here. '.repeat(15).trim();
    });
    const chunks = Array.from(
      { length: 6 },
      (_, index) => `Chunk ${index} ${'lorem ipsum dolor sit amet. '.repeat(60)}`,
    );
    const maxContextLength = mergeOverhead + 20 + 700;
    const result = await summarizeHierarchically(model, chunks, {
      chunkSize: 400,
      maxContextLength,
      maxSummaryLength: 300,
      estimatedSummaryLength: 150,
      prompts,
    });
    expect(result.levels.map((level) => level.length)).toEqual([6, 3, 1]);
    const levelOne = model.calls.filter((call) => !call.prompt.startsWith('Below is a part of a story'));
    const withContext = levelOne.filter((call) =>
      call.prompt.startsWith('Below is a summary of the context preceding'),
    );
    expect(withContext.length).toBeGreaterThan(0);
    const budget = maxContextLength - (levelOne[0].parameters.maxTokens ?? 0) - mergeOverhead - 20;
    for (const call of withContext) {
      const context = call.prompt.split('---')[1].trim();
      expect(countCl100k(context)).toBeLessThanOrEqual(Math.floor(0.2 * budget));
      expect(context.endsWith('.')).toBe(true);
      expect(context.length).toBeLessThan('Merged sentence number one is here. '.repeat(15).trim().length);
    }
    // level-0 limit below the final one: 0.65 of the next level's (int), and the prompt asks round(limit·0.65) words
    const initLimit = model.calls[0].parameters.maxTokens ?? 0;
    expect(initLimit).toBeLessThan(300);
    expect(askedWordLimit(model.calls[0].prompt)).toBe(Math.round(initLimit * 0.65));
  });

  it('retries an invalid summary at temperature 1 with a shrinking word limit', async () => {
    let call = 0;
    const model = new ScriptedModel(() => {
      call++;
      if (call === 1) return 'too long and unfinished';
      if (call === 2) return words(2000);
      return 'A valid summary.';
    });
    const result = await summarizeHierarchically(model, ['One short chunk of a story.'], { prompts });
    expect(result.summary).toBe('A valid summary.');
    expect(model.calls.map((entry) => entry.parameters.temperature)).toEqual([0.5, 1, 1]);
    expect(model.calls.map((entry) => askedWordLimit(entry.prompt))).toEqual([
      585,
      585,
      Math.round(585 * 0.9),
    ]);
    expect(model.calls.every((entry) => entry.parameters.maxTokens === 900)).toBe(true);
  });

  it('keeps the last answer with a warning after 6 retries', async () => {
    const model = new ScriptedModel(() => 'never ends a sentence');
    const result = await summarizeHierarchically(model, ['A chunk.'], { prompts });
    expect(model.calls).toHaveLength(7);
    expect(result.summary).toBe('never ends a sentence');
    expect(result.warnings[0]).toMatch(/no valid summary after 6 retries/);
    // limits shrink cumulatively: ×1, ×0.9, ×0.8, ... as in summ.py
    const limits = model.calls.map((entry) => askedWordLimit(entry.prompt));
    expect(limits).toEqual([585, 585, 527, 421, 295, 177, 88]);
  });

  it('rejects invalid options naming the field', async () => {
    const model = new ScriptedModel(() => 'x.');
    await expect(summarizeHierarchically(model, ['a'], { wordRatio: 2 })).rejects.toThrow(
      /options\.wordRatio/,
    );
  });
});
