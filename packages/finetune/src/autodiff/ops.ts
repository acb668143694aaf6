// Element-wise and linear ops with hand-written backward passes.

import { ShapeMismatchError } from '@meld/tensor-core';
import { matmulAccumulate, matmulTransposedAAccumulate, matmulTransposedB } from './matmul';
import { allocLike, assertShape, type Tape, Variable } from './tape';

function lastDim(v: Variable): number {
  return v.shape[v.shape.length - 1];
}

/** y = x·Wᵀ for x [..., in] and W [out, in] (the layout of torch.nn.Linear and of HF checkpoints). */
export function linear(tape: Tape, x: Variable, w: Variable): Variable {
  const inner = lastDim(x);
  if (w.shape.length !== 2 || w.shape[1] !== inner) {
    throw new ShapeMismatchError('linear: weight', [w.shape[0] ?? 0, inner], w.shape);
  }
  const cols = w.shape[0];
  const rows = x.size / inner;
  const out = allocLike(x.data, rows * cols);
  matmulTransposedB(x.data, w.data, out, rows, inner, cols);
  const y = new Variable(out, [...x.shape.slice(0, -1), cols], tape.needs(x, w));
  if (y.requiresGrad) {
    tape.record(() => {
      if (!y.grad) return;
      if (x.requiresGrad) matmulAccumulate(y.grad, w.data, x.gradBuffer(), rows, cols, inner);
      if (w.requiresGrad) matmulTransposedAAccumulate(y.grad, x.data, w.gradBuffer(), rows, cols, inner);
    });
  }
  return y;
}

export function add(tape: Tape, a: Variable, b: Variable): Variable {
  assertShape('add', b, a.shape);
  const out = allocLike(a.data, a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  const y = new Variable(out, a.shape, tape.needs(a, b));
  if (y.requiresGrad) {
    tape.record(() => {
      const g = y.grad;
      if (!g) return;
      if (a.requiresGrad) {
        const ga = a.gradBuffer();
        for (let i = 0; i < g.length; i++) ga[i] += g[i];
      }
      if (b.requiresGrad) {
        const gb = b.gradBuffer();
        for (let i = 0; i < g.length; i++) gb[i] += g[i];
      }
    });
  }
  return y;
}

export function mul(tape: Tape, a: Variable, b: Variable): Variable {
  assertShape('mul', b, a.shape);
  const out = allocLike(a.data, a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * b.data[i];
  const y = new Variable(out, a.shape, tape.needs(a, b));
  if (y.requiresGrad) {
    tape.record(() => {
      const g = y.grad;
      if (!g) return;
      if (a.requiresGrad) {
        const ga = a.gradBuffer();
        for (let i = 0; i < g.length; i++) ga[i] += g[i] * b.data[i];
      }
      if (b.requiresGrad) {
        const gb = b.gradBuffer();
        for (let i = 0; i < g.length; i++) gb[i] += g[i] * a.data[i];
      }
    });
  }
  return y;
}

export function scale(tape: Tape, a: Variable, factor: number): Variable {
  const out = allocLike(a.data, a.size);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * factor;
  const y = new Variable(out, a.shape, tape.needs(a));
  if (y.requiresGrad) {
    tape.record(() => {
      const g = y.grad;
      if (!g) return;
      const ga = a.gradBuffer();
      for (let i = 0; i < g.length; i++) ga[i] += g[i] * factor;
    });
  }
  return y;
}

/** Fused SwiGLU: silu(gate) · up, the Llama MLP's nonlinearity. */
export function swiglu(tape: Tape, gate: Variable, up: Variable): Variable {
  assertShape('swiglu', up, gate.shape);
  const n = gate.size;
  const out = allocLike(gate.data, n);
  const sig = allocLike(gate.data, n);
  for (let i = 0; i < n; i++) {
    const g = gate.data[i];
    const s = 1 / (1 + Math.exp(-g));
    sig[i] = s;
    out[i] = g * s * up.data[i];
  }
  const y = new Variable(out, gate.shape, tape.needs(gate, up));
  if (y.requiresGrad) {
    tape.record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dGate = gate.requiresGrad ? gate.gradBuffer() : undefined;
      const dUp = up.requiresGrad ? up.gradBuffer() : undefined;
      for (let i = 0; i < n; i++) {
        const g = gate.data[i];
        const s = sig[i];
        if (dUp) dUp[i] += dy[i] * g * s;
        if (dGate) dGate[i] += dy[i] * up.data[i] * s * (1 + g * (1 - s));
      }
    });
  }
  return y;
}

/** Rows of `table` [vocab, dim] picked by `ids`: [ids.length, dim]. */
export function embedding(tape: Tape, table: Variable, ids: ArrayLike<number>): Variable {
  const dim = table.shape[1];
  const out = allocLike(table.data, ids.length * dim);
  for (let i = 0; i < ids.length; i++)
    out.set(table.data.subarray(ids[i] * dim, (ids[i] + 1) * dim), i * dim);
  const y = new Variable(out, [ids.length, dim], tape.needs(table));
  if (y.requiresGrad) {
    tape.record(() => {
      const g = y.grad;
      if (!g) return;
      const gt = table.gradBuffer();
      for (let i = 0; i < ids.length; i++) {
        const o = ids[i] * dim;
        for (let d = 0; d < dim; d++) gt[o + d] += g[i * dim + d];
      }
    });
  }
  return y;
}

/** Inverted dropout with keep-probability 1-p; `random` returns uniform [0, 1). Identity when p = 0. */
export function dropout(tape: Tape, x: Variable, p: number, random: () => number): Variable {
  if (p <= 0) return x;
  const keep = 1 / (1 - p);
  const mask = allocLike(x.data, x.size);
  const out = allocLike(x.data, x.size);
  for (let i = 0; i < out.length; i++) {
    mask[i] = random() < p ? 0 : keep;
    out[i] = x.data[i] * mask[i];
  }
  const y = new Variable(out, x.shape, tape.needs(x));
  if (y.requiresGrad) {
    tape.record(() => {
      const g = y.grad;
      if (!g) return;
      const gx = x.gradBuffer();
      for (let i = 0; i < g.length; i++) gx[i] += g[i] * mask[i];
    });
  }
  return y;
}
