import { describe, expect, it } from 'vitest';
import { Variable } from '../autodiff/tape';
import { AdamW, clipGradNorm } from './adamw';
import { learningRateFactor } from './schedule';

describe('AdamW', () => {
  it('matches a float64 reference of torch.optim.AdamW over several steps', () => {
    const initial = [0.5, -1.25, 2];
    const grads = [
      [0.1, -0.2, 0.3],
      [0.05, 0.4, -0.1],
      [-0.3, 0.0, 0.2],
    ];
    const lr = 0.01;
    const wd = 0.1;
    const p = new Variable(Float32Array.from(initial), [3], true);
    const optimizer = new AdamW([p], { weightDecay: wd });
    // Reference, written from the algorithm in torch's documentation.
    const ref = [...initial];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let t = 1; t <= grads.length; t++) {
      p.grad = Float32Array.from(grads[t - 1]);
      optimizer.step(lr);
      for (let i = 0; i < 3; i++) {
        const g = grads[t - 1][i];
        ref[i] -= lr * wd * ref[i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        const mHat = m[i] / (1 - 0.9 ** t);
        const vHat = v[i] / (1 - 0.999 ** t);
        ref[i] -= (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    }
    expect(Array.from(p.data)).toBeAllClose(ref, { rtol: 1e-6, atol: 1e-7 });
  });

  it('clips the global gradient norm', () => {
    const a = new Variable(new Float32Array(2), [2], true);
    const b = new Variable(new Float32Array(1), [1], true);
    a.grad = Float32Array.from([3, 0]);
    b.grad = Float32Array.from([4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(Array.from(a.grad)).toBeAllClose([0.6, 0], { atol: 1e-6 });
    expect(Array.from(b.grad)).toBeAllClose([0.8], { atol: 1e-6 });
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5);
  });
});

describe('schedules', () => {
  it('warm-up then cosine to zero (transformers get_cosine_schedule_with_warmup)', () => {
    const options = { name: 'cosine' as const, warmupSteps: 10, totalSteps: 110 };
    expect(learningRateFactor(options, 0)).toBe(0);
    expect(learningRateFactor(options, 5)).toBeCloseTo(0.5, 12);
    expect(learningRateFactor(options, 10)).toBeCloseTo(1, 12);
    expect(learningRateFactor(options, 60)).toBeCloseTo(0.5, 12);
    expect(learningRateFactor(options, 110)).toBeCloseTo(0, 12);
  });
  it('linear decay and constant', () => {
    expect(learningRateFactor({ name: 'linear', warmupSteps: 0, totalSteps: 4 }, 1)).toBeCloseTo(0.75, 12);
    expect(learningRateFactor({ name: 'constant', warmupSteps: 2, totalSteps: 4 }, 3)).toBe(1);
  });
});
