import { describe, expect, it } from 'vitest';
import { askedWordLimit, ScriptedModel, words } from './__fixtures__/scripted-model';
import { summarizeIncrementally } from './incremental';
import { loadPrompts } from './prompts';

const prompts = loadPrompts();
const isInit = (prompt: string) => prompt.startsWith('Below is the beginning part of a story');
const isUpdate = (prompt: string) => prompt.startsWith('Below is a segment from a story');
const isCompress = (prompt: string) => prompt.startsWith('Below is a summary of part of a story');

describe('incremental updating rules', () => {
  it('summarises the first chunk, then updates the running summary with each chunk', async () => {
    const model = new ScriptedModel((_prompt, _call, index) => `Summary after step ${index}.`);
    const result = await summarizeIncrementally(model, ['c0', 'c1', 'c2'], { prompts });
    expect(result.steps).toEqual(['Summary after step 0.', 'Summary after step 1.', 'Summary after step 2.']);
    expect(result.summary).toBe('Summary after step 2.');
    expect(isInit(model.calls[0].prompt)).toBe(true);
    expect(isUpdate(model.calls[1].prompt) && model.calls[1].prompt.includes('Summary after step 0.')).toBe(
      true,
    );
    expect(model.calls[2].prompt).toContain('Summary after step 1.');
    expect(
      model.calls.every((call) => call.parameters.temperature === 0.5 && call.parameters.maxTokens === 900),
    ).toBe(true);
    expect(result.compressions).toBe(0);
  });

  it('compresses the previous summary to word_limit·j/N words when an update is invalid, then redoes it', async () => {
    // 4 chunks, word limit int(900·0.65) = 585: at j = 2 the compress target is int(585·2/4) = 292 words
    const model = new ScriptedModel((prompt) => {
      if (isInit(prompt)) return words(50, 'first');
      if (isCompress(prompt)) {
        const target = askedWordLimit(prompt) ?? 0;
        // the first compression misses the ±20% window; the second lands inside it
        return prompt.includes('less than 292 words') ? words(10, 'short') : words(target - 1, 'compressed');
      }
      if (prompt.includes('compressed compressed')) return 'Update from the compressed summary.';
      if (prompt.includes('c2')) return 'an update that never ends';
      return words(60, 'update');
    });
    const result = await summarizeIncrementally(model, ['c0', 'c1', 'c2', 'c3'], { prompts });
    const compressCalls = model.calls.filter((call) => isCompress(call.prompt));
    expect(compressCalls.map((call) => askedWordLimit(call.prompt))).toEqual([292, Math.trunc(292 * 0.95)]);
    expect(compressCalls.every((call) => call.parameters.temperature === 1)).toBe(true);
    // "Currently, this summary contains N words": the previous summary's word count
    expect(compressCalls[0].prompt).toContain('Currently, this summary contains 60 words');
    expect(result.steps[1].startsWith('compressed')).toBe(true);
    expect(result.steps[2]).toBe('Update from the compressed summary.');
    expect(result.compressions).toBe(2);
    expect(result.skippedCompressions).toBe(0);
  });

  it('after 6 failed compressions keeps the candidate closest to the target, with a warning', async () => {
    const model = new ScriptedModel((prompt) => {
      if (isInit(prompt)) return words(30, 'first');
      if (isCompress(prompt)) return words(Math.round((askedWordLimit(prompt) ?? 0) * 1.1), 'squeezed');
      return 'still no ending';
    });
    const result = await summarizeIncrementally(model, ['c0', 'c1'], { prompts });
    expect(model.calls.filter((call) => isCompress(call.prompt))).toHaveLength(6);
    expect(result.skippedCompressions).toBe(1);
    expect(result.warnings[0]).toMatch(/closest to 292 words/);
    expect(result.steps[0].startsWith('squeezed')).toBe(true);
  });
});
