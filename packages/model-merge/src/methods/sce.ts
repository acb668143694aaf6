// SCE (FuseChat): Select the top select_topk fraction of positions by variance of the task vectors
// across models, Calculate per-model weights mean(τ̂i²)/Σ, Erase minority-sign entries (TIES sum
// consensus), then θ0 + Σ wi·mi·τ̂i / Σ wi·mi.
import { z } from 'zod';
import { defineMergeMethod } from '../method';
import { kthLargest } from '../select';
import { forEachChunk, geometryOf, readDelta } from './chunks';

export const sce = defineMergeMethod({
  name: 'sce',
  reference: 'https://arxiv.org/abs/2408.07990 (mergekit merge_methods/sce.py)',
  description: 'FuseChat SCE: variance-based selection, energy-based weights, sign-consensus erase.',
  base: 'required',
  minModels: 1,
  parameters: z.object({
    select_topk: z.number().min(0).max(1).default(1),
    int8_mask: z.boolean().default(false),
  }),
  modelParameters: z.object({}),
  merge(context) {
    const base = context.base!;
    const n = context.models.length;
    const { size } = geometryOf(context);
    const deltasOf = (rowStart: number, rowEnd: number) =>
      context.models.map((view) => readDelta(view, base, rowStart, rowEnd));
    const variance = (deltas: Float32Array[], k: number) => {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += deltas[i]![k]!;
      mean /= n;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += (deltas[i]![k]! - mean) ** 2;
      return sum / n;
    };
    // selection: keep the k highest-variance positions (ties by index), k = ⌊topk · #nonzero⌋
    let makeSelector: () => (value: number) => boolean = () => () => true;
    if (context.parameters.select_topk < 1) {
      let scratch: Float32Array | undefined = new Float32Array(size);
      let nonzero = 0;
      forEachChunk(context, (rowStart, rowEnd, offset) => {
        const deltas = deltasOf(rowStart, rowEnd);
        for (let k = 0; k < deltas[0]!.length; k++) {
          const v = variance(deltas, k);
          scratch![offset + k] = v;
          if (v !== 0) nonzero++;
        }
      });
      const count = Math.floor(nonzero * context.parameters.select_topk);
      if (count === 0) makeSelector = () => () => false;
      else {
        const threshold = kthLargest(scratch, count - 1);
        let greater = 0;
        for (let i = 0; i < size; i++) if (scratch[i]! > threshold) greater++;
        scratch = undefined;
        makeSelector = () => {
          let equalKept = 0;
          return (value) => value > threshold || (value === threshold && equalKept++ < count - greater);
        };
      }
    }
    // chunks arrive in element order, so each pass's selector sees indices ascending
    let keep = makeSelector();
    const masked = (rowStart: number, rowEnd: number) => {
      const deltas = deltasOf(rowStart, rowEnd);
      for (let k = 0; k < deltas[0]!.length; k++) {
        if (!keep(variance(deltas, k))) for (let i = 0; i < n; i++) deltas[i]![k] = 0;
      }
      return deltas;
    };
    const energy = new Float64Array(n);
    forEachChunk(context, (rowStart, rowEnd) => {
      const deltas = masked(rowStart, rowEnd);
      for (let i = 0; i < n; i++) for (const v of deltas[i]!) energy[i] += v * v;
    });
    keep = makeSelector(); // the second pass replays the same decisions
    const totalEnergy = energy.reduce((a, b) => a + b, 0);
    const weights = Array.from(energy, (e) => (totalEnergy > 0 ? e / totalEnergy : 1 / n));
    forEachChunk(context, (rowStart, rowEnd) => {
      const b = base.read(rowStart, rowEnd);
      const deltas = masked(rowStart, rowEnd);
      const out = new Float32Array(b.length);
      for (let k = 0; k < b.length; k++) {
        let signWeight = 0;
        for (let i = 0; i < n; i++) signWeight += deltas[i]![k]!;
        const majority = signWeight >= 0 ? 1 : -1;
        let sum = 0;
        let divisor = 0;
        for (let i = 0; i < n; i++) {
          if (Math.sign(deltas[i]![k]!) === majority) {
            sum += weights[i]! * deltas[i]![k]!;
            divisor += weights[i]!;
          }
        }
        out[k] = b[k]! + (divisor > 0 ? sum / divisor : 0);
      }
      context.output.write(rowStart, out);
    });
  },
});
