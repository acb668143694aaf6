import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { chunkText } from './chunker';
import { countCl100k } from './token-counter';

describe('cl100k token counts', () => {
  it('match tiktoken cl100k_base', () => {
    // tiktoken: enc.encode("hello world") == [15339, 1917]
    expect(countCl100k('hello world')).toBe(2);
    expect(countCl100k('')).toBe(0);
  });
});

describe('chunker', () => {
  it('packs paragraphs up to the chunk size and cuts an over-long one at sentence ends', async () => {
    const long = Array.from({ length: 40 }, (_, index) => `Sentence number ${index} is here.`).join(' ');
    const text = ['Short opening.', '', 'Another paragraph.', long, 'Closing words.'].join('\n');
    const chunks = await chunkText(text, { chunkSize: 64 });
    for (const chunk of chunks) expect(countCl100k(chunk)).toBeLessThanOrEqual(64);
    expect(chunks[0].startsWith('Short opening.\nAnother paragraph.\nSentence number 0 is here.')).toBe(true);
    for (const chunk of chunks.slice(0, -1)) expect(chunk).toMatch(/[.!?]$/);
    expect(chunks.join(' ').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
  });

  it('returns one chunk when the whole text fits', async () => {
    expect(await chunkText('a\n\nb', { chunkSize: 2048 })).toEqual(['a\nb']);
  });
});

describeWithShared('chunker on a Gutenberg book', ['data/books/pg84.txt'], () => {
  it('relies on cl100k counts adding up over newline joins (checked on every neighbouring pair)', () => {
    const lines = readFileSync(sharedFile('data/books/pg84.txt'), 'utf8').replace(/\r/g, '').split('\n');
    const paragraphs = lines.filter((line) => line.length > 0).slice(0, 1500);
    for (let index = 0; index + 1 < paragraphs.length; index++) {
      const [a, b] = [paragraphs[index], paragraphs[index + 1]];
      expect(countCl100k(`${a}\n${b}`)).toBe(countCl100k(`${a}\n`) + countCl100k(b));
    }
  });

  it('never exceeds the chunk size, loses no text and packs greedily', async () => {
    const paragraphs = readFileSync(sharedFile('data/books/pg84.txt'), 'utf8')
      .replace(/\r/g, '')
      .split(/\n\s*\n/)
      .map((paragraph) => paragraph.replace(/\s*\n\s*/g, ' ').trim())
      .filter((paragraph) => paragraph.length > 0);
    const chunks = await chunkText(paragraphs.join('\n'), { chunkSize: 2048 });
    expect(chunks.length).toBeGreaterThan(40);
    for (const chunk of chunks) expect(countCl100k(chunk)).toBeLessThanOrEqual(2048);
    expect(chunks.join('\n')).toBe(paragraphs.join('\n'));
    // greedy: the next chunk's first paragraph would not have fitted
    for (let index = 0; index + 1 < chunks.length; index++) {
      const next = chunks[index + 1].split('\n')[0];
      expect(countCl100k(`${chunks[index]}\n${next}`)).toBeGreaterThan(2048);
    }
  });
});
