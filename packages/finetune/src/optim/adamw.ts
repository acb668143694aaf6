// AdamW (Loshchilov & Hutter; the update of torch.optim.AdamW): decoupled weight decay, bias-corrected
// moments. Master weights and moments are f32 whatever dtype the base model was stored in.
import { z } from 'zod';
import type { FloatArray, Variable } from '../autodiff/tape';

export const adamWOptionsSchema = z.object({
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  epsilon: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0),
});
export type AdamWOptions = z.output<typeof adamWOptionsSchema>;

export interface AdamWState {
  step: number;
  /** First and second moments, one pair per parameter in order. */
  moments: Array<{ m: Float32Array; v: Float32Array }>;
}

export class AdamW {
  readonly options: AdamWOptions;
  readonly parameters: readonly Variable[];
  state: AdamWState;

  constructor(parameters: readonly Variable[], options: z.input<typeof adamWOptionsSchema> = {}) {
    this.options = adamWOptionsSchema.parse(options);
    this.parameters = parameters;
    this.state = {
      step: 0,
      moments: parameters.map((p) => ({ m: new Float32Array(p.size), v: new Float32Array(p.size) })),
    };
  }

  /** One update with learning rate `lr`, reading each parameter's `grad` (missing = zero). */
  step(lr: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    this.state.step += 1;
    const t = this.state.step;
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    const stepSize = lr / correction1;
    const sqrtCorrection2 = Math.sqrt(correction2);
    for (let p = 0; p < this.parameters.length; p++) {
      const parameter = this.parameters[p];
      const data: FloatArray = parameter.data;
      const grad = parameter.grad;
      const { m, v } = this.state.moments[p];
      const decay = 1 - lr * weightDecay;
      for (let i = 0; i < data.length; i++) {
        const g = grad ? grad[i] : 0;
        data[i] *= decay;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        data[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtCorrection2 + epsilon);
      }
    }
  }

  zeroGrad(): void {
    for (const p of this.parameters) p.zeroGrad();
  }
}

/** Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(parameters: readonly Variable[], maxNorm: number): number {
  let sumSquares = 0;
  for (const p of parameters) {
    if (!p.grad) continue;
    for (let i = 0; i < p.grad.length; i++) sumSquares += p.grad[i] * p.grad[i];
  }
  const norm = Math.sqrt(sumSquares);
  // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied only when < 1.
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) {
    for (const p of parameters) {
      if (!p.grad) continue;
      for (let i = 0; i < p.grad.length; i++) p.grad[i] *= coefficient;
    }
  }
  return norm;
}
