// RMSNorm and rotary position embeddings (Hugging Face Llama layout: rotate_half over the two halves of
// each head, not interleaved pairs), each with a fused backward.
import { allocLike, type Tape, Variable } from './tape';

/** y = w · x / sqrt(mean(x²) + eps), row-wise over the last dimension. */
export function rmsnorm(tape: Tape, x: Variable, weight: Variable, eps: number): Variable {
  const dim = weight.size;
  const rows = x.size / dim;
  const out = allocLike(x.data, x.size);
  const inverse = allocLike(x.data, rows);
  const xd = x.data;
  const wd = weight.data;
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += xd[o + d] * xd[o + d];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    inverse[r] = inv;
    for (let d = 0; d < dim; d++) out[o + d] = wd[d] * (xd[o + d] * inv);
  }
  const y = new Variable(out, x.shape, tape.needs(x, weight));
  if (y.requiresGrad) {
    tape.record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dx = x.requiresGrad ? x.gradBuffer() : undefined;
      const dw = weight.requiresGrad ? weight.gradBuffer() : undefined;
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        const inv = inverse[r];
        if (dw) for (let d = 0; d < dim; d++) dw[d] += dy[o + d] * xd[o + d] * inv;
        if (dx) {
          // dx = inv · (g − x̂ · mean(g · x̂)), with g = dy · w and x̂ = x · inv.
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += dy[o + d] * wd[d] * xd[o + d] * inv;
          const meanDot = dot / dim;
          for (let d = 0; d < dim; d++) dx[o + d] += inv * (dy[o + d] * wd[d] - xd[o + d] * inv * meanDot);
        }
      }
    });
  }
  return y;
}

/** cos/sin tables for each position in `positions` and each of headDim/2 frequencies. */
export interface RopeTable {
  readonly halfDim: number;
  readonly cos: Float64Array;
  readonly sin: Float64Array;
}

export function ropeTable(positions: ArrayLike<number>, headDim: number, theta: number): RopeTable {
  const halfDim = headDim / 2;
  const cos = new Float64Array(positions.length * halfDim);
  const sin = new Float64Array(positions.length * halfDim);
  for (let t = 0; t < positions.length; t++) {
    for (let i = 0; i < halfDim; i++) {
      // Computed in f32 like llama2.c and transformers: inv_freq = 1 / theta^(2i/d), angle = pos·inv_freq.
      const invFreq = Math.fround(1 / theta ** ((2 * i) / headDim));
      const angle = Math.fround(positions[t] * invFreq);
      cos[t * halfDim + i] = Math.cos(angle);
      sin[t * halfDim + i] = Math.sin(angle);
    }
  }
  return { halfDim, cos, sin };
}

/** Rotates each head of x [tokens, heads·headDim] by its token's angles (rotate_half layout). */
export function rope(tape: Tape, x: Variable, table: RopeTable): Variable {
  const half = table.halfDim;
  const headDim = half * 2;
  const width = x.shape[x.shape.length - 1];
  const tokens = x.size / width;
  const heads = width / headDim;
  const out = allocLike(x.data, x.size);
  const xd = x.data;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const o = t * width + h * headDim;
      for (let i = 0; i < half; i++) {
        const c = table.cos[t * half + i];
        const s = table.sin[t * half + i];
        const a = xd[o + i];
        const b = xd[o + i + half];
        out[o + i] = a * c - b * s;
        out[o + i + half] = b * c + a * s;
      }
    }
  }
  const y = new Variable(out, x.shape, tape.needs(x));
  if (y.requiresGrad) {
    tape.record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dx = x.gradBuffer();
      for (let t = 0; t < tokens; t++) {
        for (let h = 0; h < heads; h++) {
          const o = t * width + h * headDim;
          for (let i = 0; i < half; i++) {
            const c = table.cos[t * half + i];
            const s = table.sin[t * half + i];
            const ga = dy[o + i];
            const gb = dy[o + i + half];
            dx[o + i] += ga * c + gb * s;
            dx[o + i + half] += gb * c - ga * s;
          }
        }
      }
    });
  }
  return y;
}
