// extract-lora (mergekit/scripts/extract_lora.py): a PEFT adapter from the difference of two
// models. Each changed 2-D weight τ = θ_tuned − θ_base gets a truncated SVD, rank = min(rank,
// #σ > epsilon); A = √S·Vh, B = U·√S. The config has r = lora_alpha = the largest rank (scale 1),
// lower ranks in rank_pattern/alpha_pattern, use_rslora false. Changed embeddings / lm_head (unless
// embedLora) and changed 1-D tensors (norms) are saved whole as modules_to_save: nothing is lost.
import {
  createLoraAdapter,
  type LoraAdapter,
  type LoraModuleWeights,
  openSafetensorsModel,
  svd,
  Tensor,
  ValidationError,
} from '@meld/tensor-core';
import { z } from 'zod';
import { MissingTensorError, TensorShapeMismatchError } from '../errors';
import { writeAdapterFolder } from '../output-folder';
import type { MergeProgressCallback } from '../progress';

export const extractLoraOptionsSchema = z.object({
  base: z.string().min(1),
  tuned: z.string().min(1),
  outputDir: z.string().min(1).optional(),
  /** Largest rank per module. */
  rank: z.number().int().positive(),
  /** Singular values at or below this are cut (default 0: keep `rank`). */
  epsilon: z.number().min(0).default(0),
  /** Give embeddings (and lm_head) LoRA factors instead of saving them whole. */
  embedLora: z.boolean().default(false),
  overwrite: z.boolean().default(false),
  seed: z.number().int().default(0),
});
export type ExtractLoraOptions = z.input<typeof extractLoraOptionsSchema> & {
  onProgress?: MergeProgressCallback;
};

export interface ExtractLoraResult {
  readonly adapter: LoraAdapter;
  /** Module → rank kept. */
  readonly ranks: ReadonlyMap<string, number>;
  readonly modulesToSave: readonly string[];
  readonly unchanged: number;
}

const isEmbedding = (name: string) => /embed_tokens|wte|lm_head/.test(name);

export function extractLora(options: ExtractLoraOptions): ExtractLoraResult {
  const parsed = extractLoraOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`extractLora.${issue.path.join('.')}`, issue.message);
  }
  const o = parsed.data;
  const base = openSafetensorsModel(o.base);
  const tuned = openSafetensorsModel(o.tuned);
  try {
    const modules: LoraModuleWeights[] = [];
    const ranks = new Map<string, number>();
    const extra = new Map<string, Tensor>();
    const modulesToSave: string[] = [];
    let unchanged = 0;
    const names = tuned.names;
    for (const [index, name] of names.entries()) {
      options.onProgress?.({ type: 'tensor-start', name, index, total: names.length });
      if (!base.has(name)) throw new MissingTensorError(name, o.base, ` (present in '${o.tuned}')`);
      const tunedTensor = tuned.readTensor(name);
      const baseTensor = base.readTensor(name);
      if (tunedTensor.shape.join() !== baseTensor.shape.join()) {
        throw new TensorShapeMismatchError(name, o.tuned, baseTensor.shape, tunedTensor.shape, o.base);
      }
      const t = tunedTensor.toFloat32();
      const b = baseTensor.toFloat32();
      const delta = new Float32Array(t.length);
      let changed = false;
      for (let k = 0; k < delta.length; k++) {
        delta[k] = t[k]! - b[k]!;
        if (delta[k] !== 0) changed = true;
      }
      if (!changed) {
        unchanged++;
        continue;
      }
      const module = name.replace(/\.weight$/, '');
      const embedding = isEmbedding(name);
      if (tunedTensor.shape.length !== 2 || !name.endsWith('.weight') || (embedding && !o.embedLora)) {
        extra.set(name, Tensor.fromF32(t.slice(), tunedTensor.shape));
        modulesToSave.push(module);
        continue;
      }
      // embeddings store A [r, vocab], B [dim, r] with ΔW = (B·A)ᵀ: decompose ΔWᵀ
      let [rows, cols] = tunedTensor.shape as [number, number];
      let matrix = delta;
      if (embedding) {
        matrix = new Float32Array(delta.length);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) matrix[c * rows + r] = delta[r * cols + c]!;
        [rows, cols] = [cols, rows];
      }
      const result = svd(matrix, rows, cols, { rank: Math.min(o.rank, rows, cols), seed: o.seed });
      let rank = 0;
      while (rank < result.rank && result.s[rank]! > o.epsilon) rank++;
      if (rank === 0) {
        unchanged++;
        continue;
      }
      const a = new Float32Array(rank * cols);
      const bFactor = new Float32Array(rows * rank);
      for (let j = 0; j < rank; j++) {
        const root = Math.sqrt(result.s[j]!);
        for (let c = 0; c < cols; c++) a[j * cols + c] = root * result.vt[j * cols + c]!;
        for (let r = 0; r < rows; r++) bFactor[r * rank + j] = root * result.u[r * result.rank + j]!;
      }
      modules.push({
        module,
        kind: embedding ? 'embedding' : 'linear',
        a: Tensor.fromF32(a, [rank, cols]),
        b: Tensor.fromF32(bFactor, [rows, rank]),
      });
      ranks.set(module, rank);
    }
    const maxRank = Math.max(1, ...ranks.values());
    const pattern: Record<string, number> = {};
    for (const [module, rank] of ranks) if (rank !== maxRank) pattern[module] = rank;
    const adapter = createLoraAdapter(
      {
        peft_type: 'LORA',
        r: maxRank,
        lora_alpha: maxRank,
        use_rslora: false,
        target_modules: [...ranks.keys()],
        rank_pattern: pattern,
        alpha_pattern: { ...pattern },
        modules_to_save: modulesToSave.length > 0 ? modulesToSave : null,
        base_model_name_or_path: o.base,
        task_type: 'CAUSAL_LM',
      },
      modules,
      extra,
    );
    if (o.outputDir) writeAdapterFolder(o.outputDir, adapter, o.overwrite);
    return { adapter, ranks, modulesToSave, unchanged };
  } finally {
    base.close();
    tuned.close();
  }
}
