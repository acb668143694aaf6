import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { main } from './cli';
import { readBookText } from './gutenberg';
import { runOptions } from './run-command';

function capture() {
  const output = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text) },
  };
  return { io, output };
}

describe('meld-summarize flags', () => {
  it('--help explains every flag', async () => {
    const { io, output } = capture();
    expect(await main(['--help'], io)).toBe(0);
    for (const flag of Object.keys(runOptions)) expect(output.stdout).toContain(`--${flag}`);
    const score = capture();
    expect(await main(['score', '--help'], score.io)).toBe(0);
    for (const flag of ['--summaries', '--annotations', '--splitter', '--json'])
      expect(score.output.stdout).toContain(flag);
  });

  it('names the offending flag and exits 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['book.txt', '--model', 'm', '--base-url', 'http://127.0.0.1:1/v1'], /--out: required/],
      [
        ['book.txt', '--out', 'o', '--model', 'm', '--chunk-size', 'big'],
        /--chunk-size: --chunk-size must be a positive integer/,
      ],
      [['book.txt', '--out', 'o', '--model', 'm', '--workflow', 'flat'], /--workflow/],
      [['book.txt', '--out', 'o', '--model', 'm', '--base-url', 'not-a-url'], /--base-url/],
      [
        ['book.txt', '--out', 'o', '--model', 'm', '--annotator-base-url', 'http://127.0.0.1:1/v1'],
        /--annotator-model: required/,
      ],
      [['--out', 'o', '--model', 'm'], /BOOK\.txt/],
      [['book.txt', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['score', '--summaries', 's.json'], /--annotations: required/],
    ];
    for (const [argv, message] of cases) {
      const { io, output } = capture();
      expect(await main(argv, io), argv.join(' ')).toBe(2);
      expect(output.stderr).toMatch(message);
    }
  });
});

describeWithShared(
  'meld-summarize score on the released BooookScore files',
  [
    'data/booookscore/summaries/gpt4-4096-hier-cleaned.json',
    'data/booookscore/annotations/gpt4-4096-hier.json',
  ],
  () => {
    const flags = [
      '--summaries',
      sharedFile('data/booookscore/summaries/gpt4-4096-hier-cleaned.json'),
      '--annotations',
      sharedFile('data/booookscore/annotations/gpt4-4096-hier.json'),
    ];
    it('--json prints {books, mean} on a 0-100 scale', async () => {
      const { io, output } = capture();
      expect(await main(['score', ...flags, '--splitter', 'regex', '--json'], io)).toBe(0);
      const result = JSON.parse(output.stdout) as { books: Record<string, number>; mean: number };
      expect(Object.keys(result.books)).toHaveLength(100);
      expect(Math.abs(result.mean - 91.1)).toBeLessThanOrEqual(0.2);
      const values = Object.values(result.books);
      expect(values.reduce((sum, value) => sum + value, 0) / values.length).toBeCloseTo(result.mean, 10);
    });

    it('prints a per-book table and the mean', async () => {
      const { io, output } = capture();
      expect(await main(['score', ...flags], io)).toBe(0);
      const lines = output.stdout.trim().split('\n');
      expect(lines).toHaveLength(102);
      expect(lines.at(-1)).toMatch(/^mean\s+91\.1\s+\(100 books, intl splitter\)$/);
    });
  },
);

describeWithShared('Gutenberg input', ['data/books/pg1342.txt', 'data/books/pg1661.txt'], () => {
  it('drops the license header and footer and joins wrapped lines into paragraphs', () => {
    const raw = readFileSync(sharedFile('data/books/pg1342.txt'), 'utf8');
    const book = readBookText(raw);
    expect(book.title).toBe('Pride and Prejudice');
    expect(book.strippedHeader && book.strippedFooter).toBe(true);
    expect(book.text).not.toMatch(/PROJECT GUTENBERG|gutenberg\.org|Project Gutenberg License/i);
    expect(book.text).toContain(
      'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.',
    );
    expect(book.text.trim().split('\n').at(-1)).toMatch(/uniting them\.$/);
  });

  it('handles a START marker wrapped over two lines', () => {
    const book = readBookText(readFileSync(sharedFile('data/books/pg1661.txt'), 'utf8'));
    expect(book.title).toBe('The Adventures of Sherlock Holmes');
    expect(book.text.startsWith('HOLMES')).toBe(false);
    expect(book.text).not.toMatch(/Project Gutenberg/i);
  });
});
