import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { readLlama2cTokenizer, type SentencePieceBpeTokenizer } from './sentencepiece-bpe';

// run.c's encode, transcribed independently and naively: dummy prefix token, UTF-8 characters or
// byte fallback (id = byte + 3), then repeatedly merge the best-scoring adjacent pair (leftmost on ties).
function runCEncode(pieces: string[], scores: number[], text: string): number[] {
  const lookup = (s: string) => pieces.indexOf(s);
  const tokens = [1];
  if (text.length > 0) tokens.push(lookup(' '));
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; ) {
    let end = i + 1;
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80 && end - i < 4) end++;
    const id = lookup(bytes.subarray(i, end).toString('latin1'));
    if (id >= 0) tokens.push(id);
    else for (let b = i; b < end; b++) tokens.push(bytes[b]! + 3);
    i = end;
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIndex = -1;
    for (let i = 1; i < tokens.length - 1; i++) {
      const id = lookup(pieces[tokens[i]!]! + pieces[tokens[i + 1]!]!);
      if (id >= 0 && scores[id]! > best) {
        best = scores[id]!;
        bestId = id;
        bestIndex = i;
      }
    }
    if (bestIndex < 0) return tokens;
    tokens.splice(bestIndex, 2, bestId);
  }
}

describeWithShared(
  'SentencePiece BPE (llama2.c tokenizer.bin)',
  ['models/stories260K/tok512.bin', 'data/tinystories/tinystories_val.txt'],
  () => {
    let tokenizer: SentencePieceBpeTokenizer;
    let pieces: string[];
    let scores: number[];
    beforeAll(() => {
      const bytes = readFileSync(sharedFile('models/stories260K/tok512.bin'));
      tokenizer = readLlama2cTokenizer(bytes, 512);
      // Pieces as latin1 strings of their bytes, read here without the tokenizer's code.
      pieces = [];
      scores = [];
      let offset = 4;
      while (offset < bytes.length) {
        scores.push(bytes.readFloatLE(offset));
        const length = bytes.readInt32LE(offset + 4);
        pieces.push(bytes.subarray(offset + 8, offset + 8 + length).toString('latin1'));
        offset += 8 + length;
      }
    });

    it('encodes exactly like run.c (including UTF-8 and byte fallback)', () => {
      const story = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8').slice(0, 600);
      for (const text of [
        '',
        'Lily and Ben went to the zoo',
        '  two  spaces\tand\ttabs\n\nnewlines',
        'naïve café — 🙂 日本',
        story,
      ]) {
        expect(tokenizer.encode(text)).toEqual(runCEncode(pieces, scores, text));
      }
    });

    it('decodes back to the text (leading dummy space removed after BOS)', () => {
      for (const text of ['Once upon a time, there was a dog.', 'naïve café — 🙂 日本', 'a\nb']) {
        expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
      }
    });

    it('streams multi-byte characters only once complete', () => {
      const tokens = tokenizer.encode('🙂');
      const decoder = tokenizer.createDecoder(tokens[0]);
      const parts = tokens.slice(1).map((t) => decoder.push(t));
      expect(parts.join('')).toBe('🙂');
      expect(parts.filter((p) => p.length > 0)).toHaveLength(1);
    });
  },
);
