// The float32 SIMD paths (linear via tensor-core's matmul, blocked attention) against the float64
// loop paths, whose gradients gradient-check.test.ts verifies by finite differences.
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../random';
import { causalAttention } from './attention';
import { linear } from './ops';
import { Tape, Variable } from './tape';

function pair(shape: number[], random: SeededRandom): [Variable, Variable] {
  const size = shape.reduce((a, b) => a * b, 1);
  const d64 = new Float64Array(size);
  for (let i = 0; i < size; i++) d64[i] = random.next() * 2 - 1;
  return [new Variable(Float32Array.from(d64), shape, true), new Variable(d64, shape, true)];
}

function backwardThrough(y: Variable, tape: Tape, weights: Float64Array): void {
  // loss = Σ y·weights, seeded directly into y's gradient.
  const g = y.gradBuffer();
  for (let i = 0; i < g.length; i++) g[i] = weights[i];
  const seed = new Variable(
    y.data instanceof Float32Array ? new Float32Array(1) : new Float64Array(1),
    [1],
    true,
  );
  tape.backward(seed, 0);
}

describe('float32 fast paths agree with the float64 loops', () => {
  it('linear (SIMD matmul) forward and both gradients', () => {
    const random = new SeededRandom(7);
    const [x32, x64] = pair([37, 48], random);
    const [w32, w64] = pair([29, 48], random);
    const weights = Float64Array.from({ length: 37 * 29 }, () => random.next() - 0.5);
    const t32 = new Tape(true);
    const y32 = linear(t32, x32, w32);
    const t64 = new Tape(true);
    const y64 = linear(t64, x64, w64);
    expect(y32.data).toBeAllClose(y64.data, { rtol: 1e-4, atol: 1e-5 });
    backwardThrough(y32, t32, weights);
    backwardThrough(y64, t64, weights);
    expect(x32.grad).toBeAllClose(x64.grad as Float64Array, { rtol: 1e-4, atol: 1e-5 });
    expect(w32.grad).toBeAllClose(w64.grad as Float64Array, { rtol: 1e-4, atol: 1e-5 });
  });

  it('blocked attention (GQA, packed documents) forward and gradients', () => {
    const random = new SeededRandom(8);
    const T = 20;
    const documentStarts = new Int32Array(2 * T);
    for (let i = 0; i < 2 * T; i++) documentStarts[i] = i % T < 7 ? 0 : 7;
    const shape = { batch: 2, seqLen: T, heads: 4, kvHeads: 2, headDim: 4, documentStarts };
    const [q32, q64] = pair([2 * T, 16], random);
    const [k32, k64] = pair([2 * T, 8], random);
    const [v32, v64] = pair([2 * T, 8], random);
    const weights = Float64Array.from({ length: 2 * T * 16 }, () => random.next() - 0.5);
    const t32 = new Tape(true);
    const y32 = causalAttention(t32, q32, k32, v32, shape);
    const t64 = new Tape(true);
    const y64 = causalAttention(t64, q64, k64, v64, shape);
    expect(y32.data).toBeAllClose(y64.data, { rtol: 1e-4, atol: 1e-5 });
    backwardThrough(y32, t32, weights);
    backwardThrough(y64, t64, weights);
    for (const [a, b] of [
      [q32, q64],
      [k32, k64],
      [v32, v64],
    ]) {
      expect(a.grad).toBeAllClose(b.grad as Float64Array, { rtol: 1e-4, atol: 1e-5 });
    }
  });
});
