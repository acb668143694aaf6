import { describe, expect, it } from 'vitest';
import { loadPrompts } from './prompts';
import { formatTemplate, templatePlaceholders } from './python-format';

describe('Python str.format templates', () => {
  it('fills {} in order, {name} by name, and unescapes {{ }}', () => {
    expect(formatTemplate('a {} b {} {{x}}', ['1', 2])).toBe('a 1 b 2 {x}');
    expect(
      formatTemplate('{summary}|{sentences}|{{"q": null}}', [], { summary: 'S {}', sentences: 'T' }),
    ).toBe('S {}|T|{"q": null}');
    expect(() => formatTemplate('{} {}', ['only one'])).toThrow(/needs more than 1/);
    expect(templatePlaceholders('{} {{ }} {name}')).toEqual({ positional: 1, named: ['name'] });
  });

  it('loads the bundled BooookScore prompts and checks their placeholders', () => {
    const prompts = loadPrompts();
    expect(prompts.hierarchical.init).toContain('The summary must be within {} words');
    expect(prompts.annotateBatched).toContain('{sentences}');
    expect(() => loadPrompts('/nonexistent')).toThrow(/prompts\.hierarchical\.init/);
  });
});
