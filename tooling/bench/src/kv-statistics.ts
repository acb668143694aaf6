// Per-sample metrics between a cache's next-token distributions and the full cache's.

/** log-softmax of `rows` rows of width `vocab`. */
export function logSoftmaxRows(logits: Float32Array, rows: number, vocab: number): Float64Array {
  const out = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[o + v] as number);
    let total = 0;
    for (let v = 0; v < vocab; v++) total += Math.exp((logits[o + v] as number) - max);
    const logTotal = Math.log(total) + max;
    for (let v = 0; v < vocab; v++) out[o + v] = (logits[o + v] as number) - logTotal;
  }
  return out;
}

export interface SampleComparison {
  /** Mean over positions of NLL(policy) - NLL(full), nats per token. */
  readonly nllIncrease: number;
  /** Mean over positions of KL(full || policy), nats. */
  readonly kl: number;
  /** Fraction of positions whose argmax agrees with the full cache's. */
  readonly top1: number;
}

export function compareRows(
  full: Float64Array,
  policy: Float64Array,
  targets: ArrayLike<number>,
  vocab: number,
): SampleComparison {
  const rows = targets.length;
  let nll = 0;
  let kl = 0;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    const target = targets[r] as number;
    nll += (full[o + target] as number) - (policy[o + target] as number);
    let fullArgmax = 0;
    let policyArgmax = 0;
    for (let v = 0; v < vocab; v++) {
      const p = full[o + v] as number;
      kl += Math.exp(p) * (p - (policy[o + v] as number));
      if (p > (full[o + fullArgmax] as number)) fullArgmax = v;
      if ((policy[o + v] as number) > (policy[o + policyArgmax] as number)) policyArgmax = v;
    }
    if (fullArgmax === policyArgmax) agree++;
  }
  return { nllIncrease: nll / rows, kl: kl / rows, top1: agree / rows };
}

export interface Interval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
}

/** Mean and normal-approximation 95% confidence interval over samples. */
export function meanInterval(values: readonly number[]): Interval {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  const half = 1.96 * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half };
}
