import { describe, expect, it } from 'vitest';
import { ScriptedModel } from './__fixtures__/scripted-model';
import { annotateSummary, parseBatchAnswer, parseSentenceAnswer } from './annotator';
import { loadPrompts } from './prompts';
import { computeBooookScore } from './score';

const prompts = loadPrompts();
const summary = 'Anna meets Ben in Paris. The war starts. Rusty crashes the van. They marry.';

describe('the annotator', () => {
  it('parses "Questions / Types" answers like score.py', () => {
    expect(parseSentenceAnswer('Questions: no confusion\nTypes: no confusion')).toEqual({
      valid: true,
      questions: [],
      types: [],
    });
    expect(parseSentenceAnswer('Questions: Who is Rusty?\nTypes: Entity omission, salience')).toEqual({
      valid: true,
      questions: ['Who is Rusty?'],
      types: ['entity omission', 'salience'],
    });
    expect(parseSentenceAnswer('Questions: Who?\nTypes: vagueness').valid).toBe(false);
    expect(parseSentenceAnswer('Questions: no confusion\nTypes: salience').valid).toBe(false);
    expect(parseSentenceAnswer('no confusion').valid).toBe(false);
  });

  it('asks one prompt per sentence at temperature 0 and re-queries invalid answers', async () => {
    const model = new ScriptedModel((prompt, call) => {
      const sentence = prompt
        .slice(prompt.lastIndexOf('[Your sentence]') + 15)
        .trim()
        .split('\n')[0];
      if (sentence.startsWith('Rusty')) {
        return call.parameters.cacheKey === undefined
          ? 'I think it is fine'
          : 'Questions: Who is Rusty?\nTypes: entity omission';
      }
      if (sentence.startsWith('The war'))
        return 'Questions: Which war?\nTypes: event omission, causal omission';
      return 'Questions: no confusion\nTypes: no confusion';
    });
    const events: string[] = [];
    const annotation = await annotateSummary(model, summary, {
      prompts,
      splitter: 'regex',
      onProgress: (event) => events.push(event.type),
    });
    expect(annotation.sentences.map((item) => item.sentence)).toEqual([
      'Anna meets Ben in Paris.',
      'The war starts.',
      'Rusty crashes the van.',
      'They marry.',
    ]);
    expect(annotation.sentences[2]).toEqual({
      sentence: 'Rusty crashes the van.',
      questions: ['Who is Rusty?'],
      types: ['entity omission'],
    });
    expect(model.calls).toHaveLength(5);
    expect(
      model.calls.every((call) => call.parameters.temperature === 0 && call.parameters.maxTokens === 100),
    ).toBe(true);
    expect(model.calls.filter((call) => call.parameters.cacheKey === 'requery-1')).toHaveLength(1);
    expect(events.filter((type) => type === 'annotation-requery')).toHaveLength(1);
    const score = computeBooookScore(
      { book: summary },
      { book: annotation.sentences },
      { splitter: 'regex' },
    );
    expect(score.mean).toBeCloseTo(0.5, 12);
  });

  it('batched (v2) mode sends numbered sentences and reads the JSON list', async () => {
    const model = new ScriptedModel((prompt) => {
      expect(prompt).toContain('1. Anna meets Ben in Paris.\n2. The war starts.');
      return `Here you go:\n[${[1, 2, 3, 4]
        .map((n) =>
          JSON.stringify({
            sentence_num: n,
            questions: n === 3 ? 'Who is Rusty?' : null,
            types: n === 3 ? 'entity omission, salience' : null,
          }),
        )
        .join(',')}]`;
    });
    const annotation = await annotateSummary(model, summary, { prompts, mode: 'batched', splitter: 'regex' });
    expect(model.calls).toHaveLength(1);
    expect(annotation.sentences[2].types).toEqual(['entity omission', 'salience']);
    expect(annotation.sentences.filter((item) => item.questions.length > 0)).toHaveLength(1);
    expect(parseBatchAnswer('[{"questions": null}]', 2)).toMatch(/1 answers for 2 sentences/);
  });
});
