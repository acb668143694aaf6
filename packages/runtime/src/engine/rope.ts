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

/** cos and sin of every (row, frequency) angle: [rows, headDim / 2] each, computed once per forward call. */
export interface RopeAngles {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
}

/** Fills `angles` (at least rows * headDim / 2 each) for positions[t] * inverseFrequency[i]. */
export function ropeAngles(
  angles: RopeAngles,
  rows: number,
  positions: ArrayLike<number>,
  inverseFrequency: Float64Array,
): void {
  const half = inverseFrequency.length;
  for (let t = 0; t < rows; t++) {
    const position = positions[t]!;
    for (let i = 0; i < half; i++) {
      const angle = position * inverseFrequency[i]!;
      angles.cos[t * half + i] = Math.cos(angle);
      angles.sin[t * half + i] = Math.sin(angle);
    }
  }
}

/** applyRope with the angles precomputed by `ropeAngles` (same arithmetic, no trigonometry per layer). */
export function applyRopeAngles(
  x: Float32Array,
  rows: number,
  heads: number,
  headDim: number,
  angles: RopeAngles,
): void {
  const half = headDim / 2;
  const width = heads * headDim;
  const { cos: cosines, sin: sines } = angles;
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < heads; h++) {
      const o = t * width + h * headDim;
      const a0 = t * half;
      for (let i = 0; i < half; i++) {
        const cos = cosines[a0 + i]!;
        const sin = sines[a0 + i]!;
        const a = x[o + i]!;
        const b = x[o + i + half]!;
        x[o + i] = a * cos - b * sin;
        x[o + i + half] = b * cos + a * sin;
      }
    }
  }
}
