// Recomputes BooookScore from the paper's released summaries and GPT-4 annotations and checks
// the reference numbers (docs/specs/inference.md §5, recomputed with the regex splitter).
import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { parseAnnotationFile, parseSummaryFile } from './annotation-file';
import { computeBooookScore } from './score';
import { intlSplitter, regexSplitter } from './sentence-splitter';

const reference: Array<[run: string, score: number]> = [
  ['gpt4-4096-hier', 91.1],
  ['gpt4-4096-inc', 83.0],
  ['gpt4-2048-hier', 89.5],
  ['gpt4-2048-inc', 83.2],
  ['chatgpt-2048-hier', 84.8],
  ['chatgpt-2048-inc', 68.2],
  ['claude-2048-hier', 91.4],
  ['claude-2048-inc', 79.3],
  ['claude-88000-hier', 90.6],
  ['claude-88000-inc', 91.1],
  ['llama2-2048-hier', 73.4],
];

const files = reference.flatMap(([run]) => [
  `data/booookscore/summaries/${run}-cleaned.json`,
  `data/booookscore/annotations/${run}.json`,
]);

function load(run: string) {
  const summaries = parseSummaryFile(
    JSON.parse(readFileSync(sharedFile(`data/booookscore/summaries/${run}-cleaned.json`), 'utf8')),
  );
  const annotations = parseAnnotationFile(
    JSON.parse(readFileSync(sharedFile(`data/booookscore/annotations/${run}.json`), 'utf8')),
  );
  return { summaries, annotations };
}

describeWithShared('BooookScore on the released annotations', files, () => {
  it.each(reference)('%s with the regex splitter gives %f', (run, expected) => {
    const { summaries, annotations } = load(run);
    const result = computeBooookScore(summaries, annotations, { splitter: 'regex' });
    expect(Object.keys(result.books)).toHaveLength(100);
    expect(Math.abs(result.mean * 100 - expected)).toBeLessThanOrEqual(0.2);
  });

  it('reads the list-of-spans shape and null books (llama2-2048-hier)', () => {
    const { annotations } = load('llama2-2048-hier');
    const raw = JSON.parse(
      readFileSync(sharedFile('data/booookscore/annotations/llama2-2048-hier.json'), 'utf8'),
    );
    const nullBooks = Object.keys(raw).filter((book) => raw[book] === null);
    expect(nullBooks.length).toBeGreaterThan(0);
    for (const book of nullBooks) expect(annotations[book]).toEqual([]);
    const firstBook = Object.keys(raw).find((book) => Array.isArray(raw[book]) && raw[book].length > 0) ?? '';
    expect(annotations[firstBook][0].sentence).toBe(raw[firstBook][0].span);
  });

  it('scores with the default (intl) splitter within a few points of the regex splitter', () => {
    const { summaries, annotations } = load('gpt4-4096-hier');
    const intl = computeBooookScore(summaries, annotations, { splitter: 'intl' });
    expect(intl.splitter).toBe('intl');
    expect(Math.abs(intl.mean * 100 - 91.1)).toBeLessThan(3);
  });
});

describe('scoring rules', () => {
  it('counts a sentence as confusing when questions or types are non-empty; missing books have none', () => {
    const summaries = { a: 'One. Two! Three? Four.', b: 'Only one sentence here.' };
    const annotations = parseAnnotationFile({
      a: {
        'One.': { questions: 'Who?', types: [] },
        'Two!': { questions: [], types: ['salience'] },
        'Three?': { questions: '', types: [] },
      },
    });
    const result = computeBooookScore(summaries, annotations, { splitter: 'regex' });
    expect(result.books.a).toEqual({ score: 0.5, sentences: 4, confusing: 2 });
    expect(result.books.b).toEqual({ score: 1, sentences: 1, confusing: 0 });
    expect(result.mean).toBeCloseTo(0.75, 12);
  });

  it('rejects a malformed annotation file naming the field', () => {
    expect(() => parseAnnotationFile({ book: { sentence: { questions: 3 } } })).toThrow(/annotations\.book/);
  });

  it('splits with the regex exactly at . ! ? followed by whitespace (not after a closing quote)', () => {
    expect(regexSplitter.split('Mr. Darcy came. "Why?" she asked.\nThe end')).toEqual([
      'Mr.',
      'Darcy came.',
      '"Why?" she asked.',
      'The end',
    ]);
    expect(intlSplitter.split('He left. She stayed!  Then what?')).toEqual([
      'He left.',
      'She stayed!',
      'Then what?',
    ]);
  });
});
