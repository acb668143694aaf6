// Token-level cross-entropy with a per-token weight (0 masks a token out: prompts, padding).
import { allocLike, type Tape, Variable } from './tape';

export interface CrossEntropyResult {
  /** Scalar: Σ weight·nll / normalizer. */
  loss: Variable;
  /** Σ weight·nll (unnormalised), in float64, for reporting. */
  sum: number;
  /** Σ weight. */
  count: number;
}

/**
 * logits: [N, V]; targets: N token ids; weights: N values (1 = counted, 0 = ignored).
 * `normalizer` defaults to Σ weights; pass the token count of a whole accumulated batch instead so
 * micro-batches add up to the batch mean.
 */
export function crossEntropy(
  tape: Tape,
  logits: Variable,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
  normalizer?: number,
): CrossEntropyResult {
  const V = logits.shape[logits.shape.length - 1];
  const N = logits.size / V;
  const ld = logits.data;
  const probs = allocLike(ld, N * V);
  let sum = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const w = weights[n];
    if (w === 0) continue;
    const o = n * V;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < V; c++) if (ld[o + c] > max) max = ld[o + c];
    let z = 0;
    for (let c = 0; c < V; c++) {
      const e = Math.exp(ld[o + c] - max);
      probs[o + c] = e;
      z += e;
    }
    for (let c = 0; c < V; c++) probs[o + c] /= z;
    const nll = -(ld[o + targets[n]] - max - Math.log(z));
    sum += w * nll;
    count += w;
  }
  const norm = normalizer ?? (count > 0 ? count : 1);
  const out = allocLike(ld, 1);
  out[0] = sum / norm;
  const loss = new Variable(out, [1], tape.needs(logits));
  if (loss.requiresGrad) {
    tape.record(() => {
      if (!loss.grad) return;
      const g = loss.grad[0] / norm;
      const dl = logits.gradBuffer();
      for (let n = 0; n < N; n++) {
        const w = weights[n];
        if (w === 0) continue;
        const o = n * V;
        const f = g * w;
        for (let c = 0; c < V; c++) dl[o + c] += f * probs[o + c];
        dl[o + targets[n]] -= f;
      }
    });
  }
  return { loss, sum, count };
}
