import { describe, expect, it } from 'vitest';
import { readServerSentEvents } from './sse';

async function* bytes(pieces: string[]): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (const piece of pieces) yield encoder.encode(piece);
}

async function collect(pieces: string[]): Promise<string[]> {
  const events = [];
  for await (const data of readServerSentEvents(bytes(pieces))) events.push(data);
  return events;
}

describe('readServerSentEvents', () => {
  it('joins events split across chunks and handles CRLF, comments and multi-line data', async () => {
    expect(
      await collect(['da', 'ta: {"a"', ':1}\r\n\r', '\n: comment\n\nevent: x\ndata: line1\ndata:line2\n\n']),
    ).toEqual(['{"a":1}', 'line1\nline2']);
  });

  it('emits a final event without a trailing blank line', async () => {
    expect(await collect(['data: [DONE]'])).toEqual(['[DONE]']);
  });

  it('decodes UTF-8 split inside a character', async () => {
    const encoded = new TextEncoder().encode('data: café\n\n');
    async function* split() {
      yield encoded.slice(0, 10);
      yield encoded.slice(10);
    }
    const events = [];
    for await (const data of readServerSentEvents(split())) events.push(data);
    expect(events).toEqual(['café']);
  });
});
