// Every op's backward pass against central finite differences, in float64.
import { describe, expect, it } from 'vitest';
import { causalAttention } from './attention';
import { crossEntropy } from './cross-entropy';
import { rmsnorm, rope, ropeTable } from './norm-rope';
import { add, dropout, embedding, linear, mul, scale, swiglu } from './ops';
import { Tape, Variable } from './tape';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVariable(shape: number[], random: () => number, scaleBy = 1): Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = (random() * 2 - 1) * scaleBy;
  return new Variable(data, shape, true);
}

/** f(tape) builds a scalar from `inputs`; checks analytic gradients against finite differences. */
function checkGradients(inputs: Variable[], f: (tape: Tape) => Variable): void {
  const random = seeded(99);
  // Fixed projection: evaluate f once to size it, then reuse one weight vector.
  const probe = f(new Tape(false));
  const projection = new Float64Array(probe.size);
  for (let i = 0; i < projection.length; i++) projection[i] = random() - 0.5;
  const value = (tape: Tape): Variable => {
    const y = f(tape);
    if (y.size === 1) return y;
    const p = mul(tape, y, new Variable(projection, y.shape, false));
    let s = 0;
    for (let i = 0; i < p.size; i++) s += p.data[i];
    const out = new Variable(new Float64Array([s]), [1], tape.needs(p));
    tape.record(() => {
      if (!out.grad) return;
      const g = p.gradBuffer();
      for (let i = 0; i < g.length; i++) g[i] += out.grad[0];
    });
    return out;
  };
  for (const input of inputs) input.grad = undefined;
  const tape = new Tape(true);
  tape.backward(value(tape));
  const h = 1e-6;
  for (const input of inputs) {
    const analytic = input.grad ?? new Float64Array(input.size);
    const numeric = new Float64Array(input.size);
    for (let i = 0; i < input.size; i++) {
      const saved = input.data[i];
      input.data[i] = saved + h;
      const plus = value(new Tape(false)).data[0];
      input.data[i] = saved - h;
      const minus = value(new Tape(false)).data[0];
      input.data[i] = saved;
      numeric[i] = (plus - minus) / (2 * h);
    }
    expect(Array.from(analytic)).toBeAllClose(Array.from(numeric), { rtol: 1e-5, atol: 1e-7 });
  }
}

describe('gradients match finite differences (float64)', () => {
  const random = seeded(1);

  it('linear x·Wᵀ', () => {
    const x = randomVariable([5, 7], random);
    const w = randomVariable([3, 7], random);
    checkGradients([x, w], (t) => linear(t, x, w));
  });

  it('linear with more than four rows (unrolled path and remainder)', () => {
    const x = randomVariable([9, 4], random);
    const w = randomVariable([6, 4], random);
    checkGradients([x, w], (t) => linear(t, x, w));
  });

  it('add, mul, scale', () => {
    const a = randomVariable([4, 3], random);
    const b = randomVariable([4, 3], random);
    checkGradients([a, b], (t) => scale(t, mul(t, add(t, a, b), b), 0.7));
  });

  it('swiglu', () => {
    const g = randomVariable([3, 5], random, 3);
    const u = randomVariable([3, 5], random);
    checkGradients([g, u], (t) => swiglu(t, g, u));
  });

  it('embedding gather (repeated ids accumulate)', () => {
    const table = randomVariable([6, 4], random);
    checkGradients([table], (t) => embedding(t, table, [1, 3, 1, 5]));
  });

  it('rmsnorm', () => {
    const x = randomVariable([4, 6], random);
    const w = randomVariable([6], random);
    checkGradients([x, w], (t) => rmsnorm(t, x, w, 1e-5));
  });

  it('rope (rotate_half layout)', () => {
    const x = randomVariable([3, 2 * 4], random);
    const table = ropeTable([0, 5, 17], 4, 10000);
    checkGradients([x], (t) => rope(t, x, table));
  });

  it('causal attention with GQA', () => {
    const shape = { batch: 2, seqLen: 4, heads: 4, kvHeads: 2, headDim: 3 };
    const q = randomVariable([8, 12], random);
    const k = randomVariable([8, 6], random);
    const v = randomVariable([8, 6], random);
    checkGradients([q, k, v], (t) => causalAttention(t, q, k, v, shape));
  });

  it('causal attention with packed documents', () => {
    const documentStarts = new Int32Array([0, 0, 2, 2, 2]);
    const shape = { batch: 1, seqLen: 5, heads: 2, kvHeads: 1, headDim: 2, documentStarts };
    const q = randomVariable([5, 4], random);
    const k = randomVariable([5, 2], random);
    const v = randomVariable([5, 2], random);
    checkGradients([q, k, v], (t) => causalAttention(t, q, k, v, shape));
  });

  it('cross-entropy with ignored tokens', () => {
    const logits = randomVariable([4, 5], random, 2);
    checkGradients([logits], (t) => crossEntropy(t, logits, [1, 0, 4, 2], [1, 0, 1, 1]).loss);
  });

  it('dropout (fixed mask)', () => {
    const x = randomVariable([10], random);
    checkGradients([x], (t) => dropout(t, x, 0.3, seeded(5)));
  });
});

describe('forward values', () => {
  it('attention masks the future and other documents', () => {
    // One head, head dim 1: token i attends to v of tokens in [start, i] only.
    const q = new Variable(new Float64Array([1, 1, 1, 1]), [4, 1]);
    const k = new Variable(new Float64Array([0, 0, 0, 0]), [4, 1]);
    const v = new Variable(new Float64Array([1, 2, 3, 4]), [4, 1]);
    const documentStarts = new Int32Array([0, 0, 2, 2]);
    const y = causalAttention(new Tape(false), q, k, v, {
      batch: 1,
      seqLen: 4,
      heads: 1,
      kvHeads: 1,
      headDim: 1,
      documentStarts,
    });
    expect(Array.from(y.data)).toBeAllClose([1, 1.5, 3, 3.5]);
  });

  it('cross-entropy equals -log softmax at the target', () => {
    const logits = new Variable(new Float64Array([0, Math.log(3)]), [1, 2]);
    const { loss } = crossEntropy(new Tape(false), logits, [1], [1]);
    expect(loss.data[0]).toBeCloseTo(-Math.log(3 / 4), 12);
  });
});
