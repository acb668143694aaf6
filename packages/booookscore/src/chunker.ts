// Paragraph-packed chunks of at most `chunkSize` tokens (BooookScore's chunk.py): paragraphs are the
// non-empty lines of the text, joined by '\n' until the next one would overflow; a paragraph longer
// than a chunk is cut at sentence ends (then at commas, then at a token boundary).
import { LLMValidationError } from '@meld/llm';
import { z } from 'zod';
import { cl100kCounter, type TokenCounterV1 } from './token-counter';

export const chunkOptionsSchema = z.object({
  chunkSize: z.number().int().min(16),
  /** cl100k_base by default (as the paper), or e.g. modelTokenCounter(model). */
  counter: z
    .custom<TokenCounterV1>((value) => typeof value === 'object' && value !== null && 'count' in value)
    .optional(),
});
export type ChunkOptions = z.input<typeof chunkOptionsSchema>;

type Count = (text: string) => Promise<number>;

const sentenceEnds = new Set(['.', '?', '!']);

/** Indexes of characters that end a sentence: . ? ! or a quote right after one (or commas too). */
function cutPoints(text: string, commas: boolean): number[] {
  const points: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (sentenceEnds.has(character) || (commas && character === ',')) points.push(index);
    else if ((character === '"' || character === "'") && index > 0 && sentenceEnds.has(text[index - 1]))
      points.push(index);
  }
  return points;
}

/** The longest prefix ending at a cut point with at most `limit` tokens; the rest is returned too. */
async function cutToFit(text: string, limit: number, count: Count): Promise<[head: string, rest: string]> {
  for (const commas of [false, true]) {
    const points = cutPoints(text, commas);
    let low = 0;
    let high = points.length - 1;
    let best = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if ((await count(text.slice(0, points[middle] + 1))) <= limit) {
        best = points[middle];
        low = middle + 1;
      } else high = middle - 1;
    }
    if (best >= 0) return [text.slice(0, best + 1), text.slice(best + 1).replace(/^\s+/, '')];
  }
  // No punctuation fits: cut at the last whitespace that fits (or at a character boundary).
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if ((await count(text.slice(0, middle))) <= limit) low = middle;
    else high = middle - 1;
  }
  const space = text.lastIndexOf(' ', low);
  const end = space > 0 ? space : low;
  return [text.slice(0, end), text.slice(end).replace(/^\s+/, '')];
}

export async function chunkText(text: string, options: ChunkOptions): Promise<string[]> {
  const parsed = chunkOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LLMValidationError(['options', ...issue.path.map(String)].join('.'), issue.message);
  }
  const { chunkSize } = parsed.data;
  const counter = parsed.data.counter ?? cl100kCounter;
  const count: Count = (piece) => counter.count(piece);
  const paragraphs = text.split('\n').filter((paragraph) => paragraph.length > 0);
  if (paragraphs.length === 0) return [];

  // With an additive counter (cl100k: no token crosses a newline that starts a line),
  // count(a + '\n' + b) = count(a + '\n') + count(b), so each paragraph is counted once and the
  // chunk sizes are exact sums. count(p + '\n') only differs from count(p) in p's last word.
  const additive = counter.additiveOverNewlines === true;
  const tokens: number[] = [];
  const withNewline: number[] = [];
  const newlineCount = async (paragraph: string, paragraphTokens: number) => {
    const space = paragraph.lastIndexOf(' ');
    if (space <= 0) return count(`${paragraph}\n`);
    const tail = paragraph.slice(space);
    return paragraphTokens + (await count(`${tail}\n`)) - (await count(tail));
  };
  for (const paragraph of paragraphs) {
    const paragraphTokens = await count(paragraph);
    tokens.push(paragraphTokens);
    if (additive) withNewline.push(await newlineCount(paragraph, paragraphTokens));
  }
  const whole = paragraphs.join('\n');
  const wholeTokens = additive
    ? withNewline.slice(0, -1).reduce((sum, value) => sum + value, 0) + tokens[tokens.length - 1]
    : await count(whole);
  if (wholeTokens <= chunkSize) return [whole];

  const chunks: string[] = [];
  let current = '';
  /** count(current + '\n') when additive. */
  let currentWithNewline = 0;
  for (let index = 0; index < paragraphs.length; index++) {
    const paragraph = paragraphs[index];
    if (tokens[index] > chunkSize) {
      const candidate = current.length > 0 ? `${current}\n${paragraph}` : paragraph;
      let [head, rest] = await cutToFit(candidate, chunkSize, count);
      chunks.push(head);
      while ((await count(rest)) > chunkSize) {
        [head, rest] = await cutToFit(rest, chunkSize, count);
        chunks.push(head);
      }
      current = rest;
      currentWithNewline = additive && rest.length > 0 ? await newlineCount(rest, await count(rest)) : 0;
      continue;
    }
    if (current.length === 0) {
      current = paragraph;
      currentWithNewline = additive ? withNewline[index] : 0;
      continue;
    }
    const candidate = `${current}\n${paragraph}`;
    const candidateTokens = additive ? currentWithNewline + tokens[index] : await count(candidate);
    if (candidateTokens > chunkSize) {
      chunks.push(current);
      current = paragraph;
      currentWithNewline = additive ? withNewline[index] : 0;
    } else {
      current = candidate;
      if (additive) currentWithNewline += withNewline[index];
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks.filter((chunk) => chunk.length > 0);
}
