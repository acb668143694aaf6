// Rotary position embedding. Two layouts exist for the same rotation:
// - 'llama' (interleaved, llama2.c / GGUF / Meta checkpoints): pairs (2i, 2i+1) rotate by position * theta^(-2i/d).
// - 'neox' (halves, GPT-NeoX / Hugging Face Llama): pairs (i, i + d/2) rotate by the same angles.

export type RopeLayout = 'llama' | 'neox';

/**
 * Rotates every head of `x` (heads * headDim values, one token at `position`) into `out` (may alias x).
 * Only the first `rotaryDim` dimensions of each head rotate (partial rotary); the rest are copied.
 */
export function rope(
  out: Float32Array,
  x: Float32Array,
  headDim: number,
  position: number,
  theta = 10000,
  layout: RopeLayout = 'llama',
  rotaryDim: number = headDim,
): Float32Array {
  const half = rotaryDim >> 1;
  if (out !== x) out.set(x.subarray(0, out.length));
  for (let i = 0; i < half; i++) {
    const angle = position * theta ** (-(2 * i) / rotaryDim);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const first = layout === 'llama' ? 2 * i : i;
    const second = layout === 'llama' ? first + 1 : first + half;
    for (let head = 0; head < x.length; head += headDim) {
      const a = x[head + first];
      const b = x[head + second];
      out[head + first] = a * cos - b * sin;
      out[head + second] = a * sin + b * cos;
    }
  }
  return out;
}
