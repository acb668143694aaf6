import { readFileSync } from 'node:fs';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { halfToInterleavedRows, interleavedToHalfRows, readLlama2c } from './llama2c';

describe('llama2.c q/k row layouts', () => {
  it('interleaved -> half-split moves row 2j to j and 2j+1 to j + headDim/2, per head; the inverse undoes it', () => {
    const heads = 2;
    const headDim = 4;
    const cols = 3;
    const source = Float32Array.from({ length: heads * headDim * cols }, (_, i) => i);
    const half = interleavedToHalfRows(source, heads, headDim, cols);
    const rowOf = (data: Float32Array, row: number) =>
      Array.from(data.subarray(row * cols, (row + 1) * cols));
    // head 0: rows [0, 2, 1, 3]; head 1: rows [4, 6, 5, 7]
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((r) => rowOf(half, r)[0]! / cols)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(halfToInterleavedRows(half, heads, headDim, cols)).toEqual(source);
  });
});

describeWithShared('readLlama2c', ['models/stories260K/stories260K.bin'], () => {
  const bytes = () => new Uint8Array(readFileSync(sharedFile('models/stories260K/stories260K.bin')));

  it('reads the header and names every tensor as Hugging Face does', () => {
    const { header, tensors } = readLlama2c(bytes());
    expect(header).toEqual({
      dim: 64,
      hiddenDim: 172,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      vocabSize: 512,
      seqLen: 512,
      sharedClassifier: true,
    });
    expect(tensors.get('model.layers.4.self_attn.k_proj.weight')?.shape).toEqual([32, 64]);
    expect(tensors.get('model.layers.0.mlp.down_proj.weight')?.shape).toEqual([64, 172]);
    expect(tensors.get('lm_head.weight')?.data).toBe(tensors.get('model.embed_tokens.weight')?.data);
    expect(tensors.size).toBe(2 + 1 + 5 * 9);
  });

  it('q rows come out permuted to the half-split layout (raw file rows 0 and 1 become rows 0 and 4 of head 0)', () => {
    const raw = bytes();
    const floats = new Float32Array(raw.buffer.slice(28));
    const offset = 512 * 64 + 5 * 64; // token embeddings, attention norms
    const q = readLlama2c(raw).tensors.get('model.layers.0.self_attn.q_proj.weight')!.toFloat32();
    expect(Array.from(q.subarray(0, 64))).toEqual(Array.from(floats.subarray(offset, offset + 64)));
    expect(Array.from(q.subarray(4 * 64, 5 * 64))).toEqual(
      Array.from(floats.subarray(offset + 64, offset + 128)),
    );
  });

  it('a truncated file is a FormatError naming the size', () => {
    const error = (() => {
      try {
        readLlama2c(bytes().subarray(0, 1000), 'cut.bin');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).field).toBe('size');
    expect(() => readLlama2c(new Uint8Array(10), 'tiny.bin')).toThrow(/header/);
  });
});
