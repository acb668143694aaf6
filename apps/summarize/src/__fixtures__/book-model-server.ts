// A real HTTP server on 127.0.0.1 speaking the OpenAI chat format, whose "model" is a deterministic
// extractive summariser and annotator: it follows BooookScore's prompts (word limits, "Summary j:"
// packing, compress targets, the Questions/Types answer format) by plain text rules. It stands in for a
// remote LLM so the whole pipeline runs end to end over HTTP; answers are a pure function of the request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BookModelServer {
  baseURL: string;
  /** Bodies of every request received (answered or not). */
  requests: string[];
  /** Bodies of requests that were answered. */
  answered: string[];
  /** When set, the n-th request (1-based) is held unanswered and `onHold` is called. */
  holdAt?: number;
  onHold?: () => void;
  close(): Promise<void>;
}

const sentencePattern = /(?<=[.!?]["']?)\s+/;

function words(text: string): string[] {
  return text.split(/\s+/).filter((word) => word.length > 0);
}

function between(prompt: string, index: number): string {
  return (prompt.split('\n---\n')[index] ?? '').trim();
}

function extract(text: string, wordLimit: number): string {
  const sentences = text
    .replace(/^Summary \d+:$/gm, '')
    .split(sentencePattern)
    .map((sentence) => sentence.trim())
    .filter((sentence) => words(sentence).length >= 4 && /[.!?]["']?$/.test(sentence));
  const picked: string[] = [];
  let count = 0;
  const step = Math.max(1, Math.floor(sentences.length / 8));
  for (let index = 0; index < sentences.length && count < wordLimit / 3; index += step) {
    const sentenceWords = words(sentences[index]).length;
    if (count + sentenceWords > wordLimit) break;
    picked.push(sentences[index]);
    count += sentenceWords;
  }
  return picked.length > 0 ? picked.join(' ') : 'The story goes on.';
}

function hash(text: string): number {
  let value = 0;
  for (let index = 0; index < text.length; index++) value = (value * 31 + text.charCodeAt(index)) >>> 0;
  return value;
}

function annotateSentence(sentence: string): { questions: string | null; types: string | null } {
  const kind = hash(sentence) % 5;
  if (kind === 0)
    return {
      questions: `What does "${words(sentence).slice(0, 4).join(' ')}" refer to?`,
      types: 'entity omission',
    };
  if (kind === 1)
    return {
      questions: 'Why does the story jump here? Who is speaking?',
      types: 'discontinuity, causal omission',
    };
  return { questions: null, types: null };
}

export function answer(prompt: string): string {
  if (prompt.startsWith('Given a book summary and sentences from that summary')) {
    const block = prompt.slice(
      prompt.lastIndexOf('[Your sentences]') + '[Your sentences]'.length,
      prompt.lastIndexOf('[Your responses]'),
    );
    const numbered = block
      .trim()
      .split('\n')
      .map((line) => /^(\d+)\. (.*)$/.exec(line.trim()))
      .filter((match) => match !== null);
    return JSON.stringify(
      numbered.map((match) => ({
        sentence_num: Number(match[1]),
        sentence: match[2],
        ...annotateSentence(match[2]),
      })),
    );
  }
  const limit = /(?:within|less than) (\d+) words/.exec(prompt);
  if (prompt.startsWith('Given a book summary and a sentence')) {
    const sentence = prompt
      .slice(prompt.lastIndexOf('[Your sentence]') + '[Your sentence]'.length)
      .trim()
      .split('\n')[0];
    const { questions, types } = annotateSentence(sentence);
    return `Questions: ${questions ?? 'no confusion'}\nTypes: ${types ?? 'no confusion'}`;
  }
  if (prompt.startsWith('Below is a summary of part of a story')) {
    // compress: exactly 95% of the target, ending a sentence
    const target = Math.round(Number(limit?.[1] ?? 100) * 0.95);
    return `${words(between(prompt, 1))
      .slice(0, target)
      .join(' ')
      .replace(/[.,;:!?"']+$/, '')}.`;
  }
  if (prompt.startsWith('Below is a segment from a story')) {
    const previous = between(prompt, 3);
    return `${previous} ${extract(between(prompt, 1), 40)}`;
  }
  if (prompt.startsWith('Below is the beginning part of a story')) return extract(between(prompt, 1), 60);
  if (prompt.startsWith('Below is a summary of the context preceding'))
    return extract(between(prompt, 3), Number(limit?.[1] ?? 300));
  return extract(between(prompt, 1), Number(limit?.[1] ?? 300));
}

export async function startBookModelServer(): Promise<BookModelServer> {
  let received = 0;
  const state: Omit<BookModelServer, 'baseURL' | 'close'> = { requests: [], answered: [] };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      state.requests.push(raw);
      received++;
      if (state.holdAt !== undefined && received === state.holdAt) {
        state.onHold?.();
        return;
      }
      const body = JSON.parse(raw) as { messages: Array<{ content: string }> };
      const prompt = body.messages.map((message) => message.content).join('\n');
      const text = answer(prompt);
      state.answered.push(raw);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: words(prompt).length, completion_tokens: words(text).length },
        }),
      );
    });
  });
  // longer than any pause of a busy test machine, so clients never reuse a socket the server just closed
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    baseURL: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
