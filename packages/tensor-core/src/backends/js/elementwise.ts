// Elementwise kernels on plain typed arrays. `out` may alias an input. When `b` is shorter than `a`
// (its length must divide a's), b is broadcast over a's rows.

export function add(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  const n = a.length;
  const m = b.length;
  if (m === n) for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  else for (let i = 0; i < n; i++) out[i] = a[i] + b[i % m];
  return out;
}

export function mul(out: Float32Array, a: Float32Array, b: Float32Array): Float32Array {
  const n = a.length;
  const m = b.length;
  if (m === n) for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  else for (let i = 0; i < n; i++) out[i] = a[i] * b[i % m];
  return out;
}

export function scale(out: Float32Array, a: Float32Array, factor: number): Float32Array {
  for (let i = 0; i < a.length; i++) out[i] = a[i] * factor;
  return out;
}

/** x * sigmoid(x), written so that large |x| neither overflows nor produces NaN. */
export function silu(out: Float32Array, x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v >= 0 ? v / (1 + Math.exp(-v)) : (v * Math.exp(v)) / (1 + Math.exp(v));
  }
  return out;
}

/** out = silu(gate) * up: the SwiGLU feed-forward product of Llama-family models. */
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): Float32Array {
  for (let i = 0; i < gate.length; i++) {
    const v = gate[i];
    const s = v >= 0 ? v / (1 + Math.exp(-v)) : (v * Math.exp(v)) / (1 + Math.exp(v));
    out[i] = s * up[i];
  }
  return out;
}

const sqrtTwoOverPi = Math.sqrt(2 / Math.PI);

/** erf to 1.5e-7 (Abramowitz and Stegun 7.1.26). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return sign * y;
}

/**
 * GELU. `approximate: 'tanh'` is GPT-2's gelu_new (0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))),
 * 'none' is the exact x * Phi(x) (erf to 1.5e-7).
 */
export function gelu(
  out: Float32Array,
  x: Float32Array,
  approximate: 'tanh' | 'none' = 'tanh',
): Float32Array {
  if (approximate === 'tanh') {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      out[i] = 0.5 * v * (1 + Math.tanh(sqrtTwoOverPi * (v + 0.044715 * v * v * v)));
    }
  } else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      out[i] = 0.5 * v * (1 + erf(v / Math.SQRT2));
    }
  }
  return out;
}
