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
  for (let head = 0; head < x.length; head += headDim) {
    for (let i = 0; i < half; i++) {
      const angle = position * theta ** (-(2 * i) / rotaryDim);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const first = layout === 'llama' ? head + 2 * i : head + i;
      const second = layout === 'llama' ? first + 1 : first + half;
      const a = x[first];
      const b = x[second];
      out[first] = a * cos - b * sin;
      out[second] = a * sin + b * cos;
    }
    if (out !== x) for (let i = rotaryDim; i < headDim; i++) out[head + i] = x[head + i];
  }
  return out;
}
