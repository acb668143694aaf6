// The endpoint embedder against a real loopback HTTP server speaking OpenAI's /embeddings.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkData } from './data-check';
import { endpointEmbedder } from './embedders';

let server: Server;
let baseURL = '';
const requests: Array<{ model: string; input: string[] }> = [];

// Deterministic toy embedding: letter counts of a..z.
function letterCounts(text: string): number[] {
  const counts = new Array(26).fill(0);
  for (const c of text.toLowerCase()) {
    const code = c.charCodeAt(0) - 97;
    if (code >= 0 && code < 26) counts[code]++;
  }
  return counts;
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const parsed = JSON.parse(body);
      requests.push(parsed);
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          object: 'list',
          data: parsed.input.map((text: string, index: number) => ({
            object: 'embedding',
            index,
            embedding: letterCounts(text),
          })),
          model: parsed.model,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('embeds through POST /embeddings in batches and drives the cosine checks', async () => {
  const embed = endpointEmbedder({ baseURL, model: 'toy-embedder', batchSize: 2 });
  const vectors = await embed(['abc', 'cab', 'zzz']);
  expect(vectors.map((v) => Array.from(v).slice(0, 3))).toEqual([
    [1, 1, 1],
    [1, 1, 1],
    [0, 0, 0],
  ]);
  expect(requests.map((r) => r.input.length)).toEqual([2, 1]);
  expect(requests[0].model).toBe('toy-embedder');

  const report = await checkData({
    train: ['abc', 'cab', 'xyz'].map((text) => ({ format: 'text', record: { text } })),
    test: [{ format: 'text', record: { text: 'zyx' } }],
    embed,
    options: { methods: ['embedding'] },
  });
  expect(report.removed.map((r) => [r.index, r.reason, r.matchedIndex])).toEqual([
    [1, 'duplicate', 0],
    [2, 'contamination', 0],
  ]);
});
