// RAM (Reinforced Agent Merging): per element, a task-vector entry is active when |τi| > epsilon;
// entries owned by one model are kept as they are, entries shared by several are averaged over the
// active ones. ramplus_tl scales each model's unique entries by 1 + r·clip(shared_i/unique_i, 0, α).
import { z } from 'zod';
import { defineMergeMethod, type MergeMethodV1 } from '../method';
import { forEachChunk, readDelta } from './chunks';

function ramMethod(name: 'ram' | 'ramplus_tl'): MergeMethodV1 {
  return defineMergeMethod({
    name,
    reference: 'https://github.com/arcee-ai/mergekit/blob/main/mergekit/merge_methods/ram.py',
    description:
      name === 'ram'
        ? 'RAM: unique task-vector entries kept, shared ones averaged over the models where they are active.'
        : 'RAM+ (tensor-level): RAM with each model’s unique entries rescaled by its shared/unique overlap ratio.',
    base: 'required',
    minModels: 1,
    parameters: z.object({
      epsilon: z.number().min(0).default(1e-5),
      r: z.number().default(0.1),
      alpha: z.number().min(0).default(0.2),
    }),
    modelParameters: z.object({}),
    merge(context) {
      const base = context.base!;
      const { epsilon, r, alpha } = context.parameters;
      const n = context.models.length;
      const scales = new Array<number>(n).fill(1);
      if (name === 'ramplus_tl') {
        const shared = new Float64Array(n);
        const unique = new Float64Array(n);
        forEachChunk(context, (rowStart, rowEnd) => {
          const deltas = context.models.map((view) => readDelta(view, base, rowStart, rowEnd));
          for (let k = 0; k < deltas[0]!.length; k++) {
            let count = 0;
            for (let i = 0; i < n; i++) if (Math.abs(deltas[i]![k]!) > epsilon) count++;
            if (count === 0) continue;
            for (let i = 0; i < n; i++) {
              if (Math.abs(deltas[i]![k]!) > epsilon) {
                if (count === 1) unique[i]++;
                else shared[i]++;
              }
            }
          }
        });
        for (let i = 0; i < n; i++) {
          const ratio = unique[i]! > 0 ? shared[i]! / unique[i]! : 0;
          scales[i] = 1 + r * Math.min(alpha, Math.max(0, ratio));
        }
      }
      forEachChunk(context, (rowStart, rowEnd) => {
        const b = base.read(rowStart, rowEnd);
        const deltas = context.models.map((view) => readDelta(view, base, rowStart, rowEnd));
        const out = new Float32Array(b.length);
        for (let k = 0; k < out.length; k++) {
          let count = 0;
          let sum = 0;
          let owner = -1;
          for (let i = 0; i < n; i++) {
            const v = deltas[i]![k]!;
            if (Math.abs(v) > epsilon) {
              count++;
              sum += v;
              owner = i;
            }
          }
          const merged = count === 0 ? 0 : count === 1 ? sum * scales[owner]! : sum / count;
          out[k] = b[k]! + merged;
        }
        context.output.write(rowStart, out);
      });
    },
  });
}

export const ram = ramMethod('ram');
export const ramplusTl = ramMethod('ramplus_tl');
