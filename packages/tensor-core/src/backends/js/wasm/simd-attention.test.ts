// SimdArena.attendSingleQuery (matvec q·k, softmax, the weightedRowSum kernel for P V) against a float64
// single-query attention written here.
import { describe, expect, it } from 'vitest';
import { createSimdArena } from './simd-engine';

function random(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = (state / 2 ** 32 - 0.5) * 4;
  }
  return values;
}

function reference(
  q: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  length: number,
  headDim: number,
) {
  const scores = new Float64Array(length);
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < length; j++) {
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += q[d] * keys[j * headDim + d];
    scores[j] = dot / Math.sqrt(headDim);
    max = Math.max(max, scores[j]);
  }
  let total = 0;
  for (let j = 0; j < length; j++) {
    scores[j] = Math.exp(scores[j] - max);
    total += scores[j];
  }
  const out = new Float64Array(headDim);
  for (let j = 0; j < length; j++) {
    scores[j] /= total;
    for (let d = 0; d < headDim; d++) out[d] += scores[j] * values[j * headDim + d];
  }
  return { scores, out };
}

describe('SimdArena.attendSingleQuery', () => {
  const arena = createSimdArena();
  it.each([
    [1, 16, 1],
    [7, 64, 3],
    [65, 64, 3],
    [300, 128, 2],
  ])(
    'length=%i headDim=%i group=%i: weights and outputs match float64, out is added to',
    (length, headDim, group) => {
      const firstHead = 1;
      const heads = firstHead + group + 1;
      const q = random(heads * headDim, length + headDim);
      const keys = random(length * headDim, 11);
      const values = random(length * headDim, 12);
      const start = random(heads * headDim, 13);
      const out = Float32Array.from(start);
      const scores = new Float32Array(group * length);
      arena.attendSingleQuery(
        out,
        q,
        firstHead,
        group,
        keys,
        values,
        length,
        headDim,
        1 / Math.sqrt(headDim),
        scores,
      );
      for (let g = 0; g < group; g++) {
        const head = firstHead + g;
        const expected = reference(q.subarray(head * headDim), keys, values, length, headDim);
        expect(scores.subarray(g * length, (g + 1) * length)).toBeAllClose(expected.scores, {
          rtol: 1e-4,
          atol: 1e-6,
        });
        const added = Float64Array.from(expected.out, (value, d) => value + start[head * headDim + d]!);
        expect(out.subarray(head * headDim, (head + 1) * headDim)).toBeAllClose(added, {
          rtol: 1e-4,
          atol: 1e-5,
        });
      }
      // heads outside the group are untouched
      expect(out.subarray(0, headDim)).toEqual(start.subarray(0, headDim));
      expect(out.subarray((firstHead + group) * headDim)).toEqual(
        start.subarray((firstHead + group) * headDim),
      );
    },
  );

  it('rejects a head size that is not a multiple of 16', () => {
    expect(() =>
      arena.attendSingleQuery(
        new Float32Array(8),
        new Float32Array(8),
        0,
        1,
        new Float32Array(8),
        new Float32Array(8),
        1,
        8,
        1,
        new Float32Array(1),
      ),
    ).toThrow(RangeError);
  });
});
