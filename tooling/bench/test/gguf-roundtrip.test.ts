// llama.cpp round trip: stories260K read by our readers, written by our GGUF writer, loaded by
// llama.cpp (node-llama-cpp 3.21.1, CPU, one thread, BOS prepended): its greedy text must equal
// llama2.c run.c's output in REFERENCE.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGguf } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, expect, it } from 'vitest';
import {
  llamaCppGreedy,
  readGgufAsCanonical,
  readLlama2cAsCanonical,
  writeCanonicalAsGguf,
} from '../src/gguf-roundtrip';

const files = [
  'models/stories260K/stories260K.gguf',
  'models/stories260K/stories260K.bin',
  'models/stories260K/REFERENCE.md',
];

function referenceCase(index: number): { steps: number; prompt?: string; text: string } {
  const text = readFileSync(sharedFile('models/stories260K/REFERENCE.md'), 'utf8');
  const pattern = /## \d+\. `run [^`]*?-n (\d+)(?: -i "([^"]*)")?`[^\n]*\n```text\n([\s\S]*?)```/g;
  const match = [...text.matchAll(pattern)][index]!;
  return {
    steps: Number(match[1]),
    ...(match[2] !== undefined ? { prompt: match[2] } : {}),
    text: match[3]!,
  };
}

describeWithShared('GGUF round trip through llama.cpp', files, () => {
  const folder = mkdtempSync(join(tmpdir(), 'meld-gguf-roundtrip-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('stories260K.gguf -> canonical tensors -> our GGUF (f32) -> llama.cpp greedy text equals REFERENCE.md case 1', async () => {
    const out = join(folder, 'from-gguf.gguf');
    writeCanonicalAsGguf(out, readGgufAsCanonical(sharedFile(files[0]!)));
    // The written weights are the source's exactly (q/k permuted back), with the vocabulary carried over.
    const source = openGguf(sharedFile(files[0]!));
    const written = openGguf(out);
    for (const t of source.tensors)
      expect(Buffer.from(written.readBytes(t.name)).equals(source.readBytes(t.name))).toBe(true);
    expect(written.get('tokenizer.ggml.tokens')).toEqual(source.get('tokenizer.ggml.tokens'));
    source.close();
    written.close();
    const reference = referenceCase(0);
    expect(await llamaCppGreedy(out, reference)).toBe(reference.text);
  });

  it('stories260K.bin (llama2.c) -> our GGUF (f32) -> llama.cpp greedy text equals REFERENCE.md cases 1 and 2', async () => {
    const out = join(folder, 'from-bin.gguf');
    const source = openGguf(sharedFile(files[0]!));
    const model = readLlama2cAsCanonical(
      new Uint8Array(readFileSync(sharedFile(files[1]!))),
      source.metadata,
    );
    source.close();
    writeCanonicalAsGguf(out, model);
    for (const index of [0, 1]) {
      const reference = referenceCase(index);
      expect(await llamaCppGreedy(out, reference)).toBe(reference.text);
    }
  });

  it('our Q8_0 GGUF loads in llama.cpp and stays on the reference story for its first sentence', async () => {
    const out = join(folder, 'q8.gguf');
    writeCanonicalAsGguf(out, readGgufAsCanonical(sharedFile(files[0]!)), 'Q8_0');
    const reference = referenceCase(0);
    const text = await llamaCppGreedy(out, { steps: 40 });
    expect(text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(reference.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
  });
});
