// Arcee Fusion: importance = |Δ| · KL(softmax(θ1) ‖ softmax(θ0)) per row (last dimension);
// threshold = median + 1.5·IQR of the importances (on a seeded sample of 1e6 when larger);
// result θ0 + Δ·[importance ≥ threshold].
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { randomKey, uniformAt } from '../random';
import { quantile } from '../select';
import { forEachChunk, geometryOf } from './chunks';

const maxSample = 1_000_000;

function rowKl(model: Float32Array, base: Float32Array, start: number, length: number, eps: number): number {
  let maxP = Number.NEGATIVE_INFINITY;
  let maxQ = Number.NEGATIVE_INFINITY;
  for (let k = start; k < start + length; k++) {
    maxP = Math.max(maxP, model[k]! + eps);
    maxQ = Math.max(maxQ, base[k]! + eps);
  }
  let sumP = 0;
  let sumQ = 0;
  for (let k = start; k < start + length; k++) {
    sumP += Math.exp(model[k]! + eps - maxP);
    sumQ += Math.exp(base[k]! + eps - maxQ);
  }
  let kl = 0;
  for (let k = start; k < start + length; k++) {
    const p = Math.exp(model[k]! + eps - maxP) / sumP + eps;
    const q = Math.exp(base[k]! + eps - maxQ) / sumQ + eps;
    kl += p * Math.log(p / q);
  }
  return kl;
}

export const arceeFusion = defineMergeMethod({
  name: 'arcee_fusion',
  reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/arcee_fusion.py',
  description: 'Keeps only the changes whose |Δ|·KL importance exceeds median + 1.5·IQR.',
  base: 'required',
  minModels: 1,
  maxModels: 1,
  parameters: z.object({}),
  modelParameters: z.object({}),
  merge(context) {
    const base = context.base!;
    const model = context.models[0]!;
    const { size, rowLength } = geometryOf(context);
    const eps = 1e-8;
    const importance = new Float32Array(size);
    forEachChunk(context, (rowStart, rowEnd, offset) => {
      const b = base.read(rowStart, rowEnd);
      const m = model.read(rowStart, rowEnd);
      for (let start = 0; start < b.length; start += rowLength) {
        const kl = rowKl(m, b, start, rowLength, eps);
        for (let k = start; k < start + rowLength; k++) importance[offset + k] = Math.abs(m[k]! - b[k]!) * kl;
      }
    });
    let sample: Float32Array;
    if (size > maxSample) {
      const key = randomKey(context.seed, context.tensorName, 0x5eed);
      sample = new Float32Array(maxSample);
      for (let i = 0; i < maxSample; i++) sample[i] = importance[Math.floor(uniformAt(key, i) * size)]!;
    } else sample = importance.slice();
    const median = quantile(sample, 0.5);
    const q1 = quantile(sample, 0.25);
    const q3 = quantile(sample, 0.75);
    const threshold = median + 1.5 * (q3 - q1);
    forEachChunk(context, (rowStart, rowEnd, offset) => {
      const b = base.read(rowStart, rowEnd);
      const m = model.read(rowStart, rowEnd);
      const out = new Float32Array(b.length);
      for (let k = 0; k < out.length; k++) out[k] = importance[offset + k]! >= threshold ? m[k]! : b[k]!;
      context.output.write(rowStart, out);
    });
  },
});
