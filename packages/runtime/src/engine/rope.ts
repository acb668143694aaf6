// Rotary position embedding in Hugging Face's rotate_half layout: within a head, dimension i pairs
// with i + headDim/2. Every loader converts weights to this layout, so there is one rope here.
import type { ModelConfig } from '../config';

/** Inverse frequencies (headDim / 2 of them), with linear or llama3 scaling applied as HF does. */
export function inverseFrequencies(
  config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>,
): Float64Array {
  const half = config.headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / config.ropeTheta ** ((2 * i) / config.headDim);
  const scaling = config.ropeScaling;
  if (!scaling) return out;
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) out[i] = out[i]! / scaling.factor;
    return out;
  }
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  const lowFreqWavelength = original / lowFreqFactor;
  const highFreqWavelength = original / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const frequency = out[i]!;
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highFreqWavelength) continue;
    if (wavelength > lowFreqWavelength) {
      out[i] = frequency / factor;
      continue;
    }
    const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    out[i] = (1 - smooth) * (frequency / factor) + smooth * frequency;
  }
  return out;
}

/**
 * Rotates `heads` heads of each of `rows` rows of `x` ([rows, heads * headDim]) in place;
 * row t is at position positions[t].
 */
export function applyRope(
  x: Float32Array,
  rows: number,
  heads: number,
  headDim: number,
  positions: ArrayLike<number>,
  inverseFrequency: Float64Array,
): void {
  const half = headDim / 2;
  const width = heads * headDim;
  for (let t = 0; t < rows; t++) {
    const position = positions[t]!;
    for (let i = 0; i < half; i++) {
      const angle = position * inverseFrequency[i]!;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const o = t * width + h * headDim + i;
        const a = x[o]!;
        const b = x[o + half]!;
        x[o] = a * cos - b * sin;
        x[o + half] = b * cos + a * sin;
      }
    }
  }
}
