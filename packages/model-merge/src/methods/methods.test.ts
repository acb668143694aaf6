// Every method against an independent float64 reference written here (full sorts, plain vectors,
// no Gram-matrix tricks, no chunking), plus chunking invariance and seeded reproducibility.
import { describe, expect, it } from 'vitest';
import { mergeTensors } from '../merge-tensors';
import { randomKey, uniformAt } from '../random';
import { builtinMergeMethods, defaultMergeMethods } from '../registry';
import {
  add,
  descendingMagnitudeOrder,
  dot,
  norm,
  scale,
  seededData,
  sub,
  toF64,
  zeros,
} from './reference.test-helpers';

const rows = 12;
const cols = 10;
const size = rows * cols;
const shape = [rows, cols];
const base32 = seededData(1, size);
const models32 = [2, 3, 4].map((seed) => {
  const delta = seededData(seed, size, 0.1);
  return base32.map((v, i) => v + delta[i]!);
});
const base = toF64(base32);
const models = models32.map(toF64);
const deltas = models.map((m) => sub(m, base));
const tight = { rtol: 1e-5, atol: 1e-6 };

function run(method: string, options: Partial<Parameters<typeof mergeTensors>[0]> = {}) {
  return mergeTensors({ method, base: base32, models: models32, shape, ...options }).tensor.toFloat32();
}

/** mergekit's GTA combine step over already-sparsified deltas. */
function combine(
  sparse: number[][],
  weights: number[],
  options: { consensus: boolean; normalize: boolean; lambda?: number },
) {
  const out = zeros(size);
  for (let k = 0; k < size; k++) {
    const weighted = sparse.map((d, i) => d[k]! * weights[i]!);
    let mixed = 0;
    let divisor = 0;
    if (options.consensus) {
      const majority = weighted.reduce((a, b) => a + b, 0) >= 0 ? 1 : -1;
      weighted.forEach((w, i) => {
        if (Math.sign(w) === majority) {
          mixed += w;
          divisor += weights[i]!;
        }
      });
    } else {
      mixed = weighted.reduce((a, b) => a + b, 0);
      divisor = weights.reduce((a, b) => a + b, 0);
    }
    if (options.normalize) mixed /= Math.abs(divisor) < 1e-8 ? 1 : divisor;
    out[k] = base[k]! + (options.lambda ?? 1) * mixed;
  }
  return out;
}

function topK(delta: number[], density: number): number[] {
  const k = Math.floor(density * delta.length);
  const keep = new Set(descendingMagnitudeOrder(delta).slice(0, k));
  return delta.map((v, i) => (keep.has(i) ? v : 0));
}

function bernoulliMask(seed: number, model: number, probability: (i: number) => number): boolean[] {
  const key = randomKey(seed, 'tensor', model);
  return Array.from({ length: size }, (_, i) => uniformAt(key, i) < probability(i));
}

function l1Rescale(delta: number[], mask: boolean[]): number[] {
  const kept = delta.map((v, i) => (mask[i] ? v : 0));
  const before = delta.reduce((a, v) => a + Math.abs(v), 0);
  const after = kept.reduce((a, v) => a + Math.abs(v), 0);
  return after > 1e-7 ? scale(kept, before / after) : kept;
}

describe('registry', () => {
  it('holds mergekit’s 20 methods and the PEFT flavours, each a v1 declaration with a reference', () => {
    const mergekit = [
      'linear',
      'task_arithmetic',
      'ties',
      'dare_ties',
      'dare_linear',
      'breadcrumbs',
      'breadcrumbs_ties',
      'della',
      'della_linear',
      'slerp',
      'nuslerp',
      'multislerp',
      'karcher',
      'model_stock',
      'sce',
      'ram',
      'ramplus_tl',
      'nearswap',
      'arcee_fusion',
      'passthrough',
    ];
    for (const name of mergekit) expect(defaultMergeMethods.has(name), name).toBe(true);
    for (const name of ['ties_peft', 'dare_ties_peft', 'dare_linear_peft', 'magnitude_prune'])
      expect(defaultMergeMethods.has(name)).toBe(true);
    for (const method of builtinMergeMethods) {
      expect(method.specificationVersion).toBe('v1');
      expect(method.reference).toMatch(/^https:\/\//);
    }
    expect(() => defaultMergeMethods.get('tie')).toThrow(/unknown merge method 'tie'.*ties/);
  });

  it('names the offending parameter', () => {
    expect(() => run('ties', { modelParameters: [{ weight: 1, density: 2 }, {}, {}] })).toThrow(
      /ties\(tensor\)\.parameters|models\[0\]\.parameters\.density/,
    );
    expect(() =>
      mergeTensors({ method: 'slerp', models: [models32[0]!], shape, parameters: { t: 0.5 } }),
    ).toThrow(/base_model/);
  });
});

describe('methods against float64 references', () => {
  const weights = [0.5, 0.3, 0.2];
  const modelParameters = (extra: Record<string, unknown> = {}) =>
    weights.map((weight) => ({ weight, ...extra }));

  it('linear', () => {
    const got = mergeTensors({
      method: 'linear',
      models: models32,
      shape,
      modelParameters: [{ weight: 2 }, { weight: 1 }, { weight: 1 }],
    });
    const expected = zeros(size).map((_, k) => (2 * models[0]![k]! + models[1]![k]! + models[2]![k]!) / 4);
    expect(got.tensor.toFloat32()).toBeAllClose(expected, tight);
  });

  it('task_arithmetic with lambda', () => {
    const got = run('task_arithmetic', { modelParameters: modelParameters(), parameters: { lambda: 0.7 } });
    expect(got).toBeAllClose(
      combine(deltas, weights, { consensus: false, normalize: false, lambda: 0.7 }),
      tight,
    );
  });

  it('ties (mergekit: top-k by selection, weighted sign, divide by agreeing weights)', () => {
    const got = run('ties', { modelParameters: modelParameters({ density: 0.3 }) });
    const sparse = deltas.map((d) => topK(d, 0.3));
    expect(got).toBeAllClose(combine(sparse, weights, { consensus: true, normalize: true }), tight);
  });

  it('ties with heavily tied magnitudes (quantized deltas, as bf16 fine-tunes have) breaks ties by index', () => {
    const quantized = models32.map((m) =>
      m.map((v, i) => base32[i]! + Math.round((v - base32[i]!) * 20) / 20),
    );
    const qDeltas = quantized.map((m) => toF64(m).map((v, i) => v - base[i]!));
    const sparse = qDeltas.map((d) => topK(d, 0.3));
    const expected = combine(sparse, weights, { consensus: true, normalize: true });
    for (const chunkElements of [1 << 20, 7 * cols]) {
      for (const cacheBytes of [0, 1 << 20]) {
        const got = mergeTensors({
          method: 'ties',
          base: base32,
          models: quantized,
          shape,
          modelParameters: modelParameters({ density: 0.3 }),
          chunkElements,
          cacheBytes,
        }).tensor.toFloat32();
        expect(got).toBeAllClose(expected, tight);
      }
    }
  });

  it('ties_peft (unweighted sign, divide by count) differs from mergekit’s ties', () => {
    const got = run('ties_peft', { modelParameters: modelParameters({ density: 0.3 }) });
    const sparse = deltas.map((d) => topK(d, 0.3));
    const expected = zeros(size).map((_, k) => {
      const majority = sparse.reduce((a, d) => a + d[k]!, 0) >= 0 ? 1 : -1;
      let sum = 0;
      let count = 0;
      sparse.forEach((d, i) => {
        if (Math.sign(d[k]!) === majority) {
          sum += weights[i]! * d[k]!;
          count++;
        }
      });
      return base[k]! + sum / Math.max(count, 1);
    });
    expect(got).toBeAllClose(expected, tight);
    expect(got).not.toBeAllClose(run('ties', { modelParameters: modelParameters({ density: 0.3 }) }), tight);
  });

  it('magnitude_prune (PEFT)', () => {
    const got = run('magnitude_prune', { modelParameters: modelParameters({ density: 0.5 }) });
    const sparse = deltas.map((d) => topK(d, 0.5));
    expect(got).toBeAllClose(combine(sparse, weights, { consensus: false, normalize: false }), tight);
  });

  it('dare_linear and dare_ties: Bernoulli masks from the seed, L1 rescale (mergekit) vs 1/density (PEFT)', () => {
    const density = 0.4;
    const seed = 1234;
    const masks = deltas.map((_, i) => bernoulliMask(seed, i, () => density));
    const l1 = deltas.map((d, i) => l1Rescale(d, masks[i]!));
    const inverse = deltas.map((d, i) => d.map((v, k) => (masks[i]![k] ? v / density : 0)));
    const params = { modelParameters: modelParameters({ density }), seed };
    expect(run('dare_linear', params)).toBeAllClose(
      combine(l1, weights, { consensus: false, normalize: false }),
      tight,
    );
    expect(run('dare_ties', params)).toBeAllClose(
      combine(l1, weights, { consensus: true, normalize: false }),
      tight,
    );
    expect(run('dare_linear_peft', params)).toBeAllClose(
      combine(inverse, weights, { consensus: false, normalize: false }),
      tight,
    );
    expect(
      run('dare_linear', { ...params, parameters: { rescale_mode: 'inverse_probability' } }),
    ).toBeAllClose(run('dare_linear_peft', params), tight);
    // roughly density of the entries survive
    const kept = masks.flat().filter(Boolean).length / (3 * size);
    expect(kept).toBeGreaterThan(0.3);
    expect(kept).toBeLessThan(0.5);
  });

  it('DARE is reproducible from the seed and changes with it', () => {
    const a = run('dare_ties', { modelParameters: modelParameters({ density: 0.5 }), seed: 7 });
    const b = run('dare_ties', { modelParameters: modelParameters({ density: 0.5 }), seed: 7 });
    const c = run('dare_ties', { modelParameters: modelParameters({ density: 0.5 }), seed: 8 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('breadcrumbs and breadcrumbs_ties keep the middle band of |τ|', () => {
    const density = 0.5;
    const gamma = 0.1;
    const band = (d: number[]) => {
      const order = descendingMagnitudeOrder(d);
      const top = Math.floor(gamma * size);
      const keep = new Set(order.slice(top, top + Math.floor(density * size)));
      return d.map((v, i) => (keep.has(i) ? v : 0));
    };
    const sparse = deltas.map(band);
    const params = { modelParameters: modelParameters({ density, gamma }) };
    expect(run('breadcrumbs', params)).toBeAllClose(
      combine(sparse, weights, { consensus: false, normalize: false }),
      tight,
    );
    expect(run('breadcrumbs_ties', params)).toBeAllClose(
      combine(sparse, weights, { consensus: true, normalize: false }),
      tight,
    );
  });

  it('della and della_linear: per-row rank probabilities, seeded, L1 rescale', () => {
    const density = 0.5;
    const epsilon = 0.2;
    const seed = 99;
    const probabilities = deltas.map((d) => {
      const p = zeros(size);
      for (let r = 0; r < rows; r++) {
        const row = d.slice(r * cols, (r + 1) * cols);
        const order = row.map((_, i) => i).sort((i, j) => Math.abs(row[i]!) - Math.abs(row[j]!) || i - j);
        order.forEach((index, rank) => {
          p[r * cols + index] = density - epsilon + (2 * epsilon * rank) / (cols - 1);
        });
      }
      return p;
    });
    const sparse = deltas.map((d, i) =>
      l1Rescale(
        d,
        bernoulliMask(seed, i, (k) => probabilities[i]![k]!),
      ),
    );
    const params = { modelParameters: modelParameters({ density, epsilon }), seed };
    expect(run('della', params)).toBeAllClose(
      combine(sparse, weights, { consensus: true, normalize: true }),
      tight,
    );
    expect(run('della_linear', params)).toBeAllClose(
      combine(sparse, weights, { consensus: false, normalize: false }),
      tight,
    );
  });

  it('slerp (and its lerp fallback for colinear inputs)', () => {
    const t = 0.3;
    const a = base;
    const b = models[0]!;
    const omega = Math.acos(dot(a, b) / (norm(a) * norm(b)));
    const expected = add(
      scale(a, Math.sin((1 - t) * omega) / Math.sin(omega)),
      scale(b, Math.sin(t * omega) / Math.sin(omega)),
    );
    const got = mergeTensors({
      method: 'slerp',
      base: base32,
      models: [models32[1]!.map((_, i) => models32[0]![i]!)],
      shape,
      parameters: { t },
    });
    expect(got.tensor.toFloat32()).toBeAllClose(expected, tight);
    const doubled = base32.map((v) => 2 * v);
    const lerp = mergeTensors({ method: 'slerp', base: base32, models: [doubled], shape, parameters: { t } });
    expect(lerp.tensor.toFloat32()).toBeAllClose(scale(base, 1 + t), tight);
  });

  function slerpVectors(t: number, a: number[], b: number[]): number[] {
    const theta = Math.acos(Math.min(1, Math.max(-1, dot(a, b) / (norm(a) * norm(b)))));
    return add(
      scale(a, Math.sin((1 - t) * theta) / Math.sin(theta)),
      scale(b, Math.sin(t * theta) / Math.sin(theta)),
    );
  }

  it('nuslerp: flattened, row-wise and column-wise, with a base (task vectors)', () => {
    const w = [{ weight: 1 }, { weight: 3 }];
    const t = 0.75;
    const pair = [models32[0]!, models32[1]!];
    const flat = mergeTensors({ method: 'nuslerp', base: base32, models: pair, shape, modelParameters: w });
    expect(flat.tensor.toFloat32()).toBeAllClose(add(base, slerpVectors(t, deltas[0]!, deltas[1]!)), tight);
    const rowWise = mergeTensors({
      method: 'nuslerp',
      models: pair,
      shape,
      modelParameters: w,
      parameters: { nuslerp_flatten: false, nuslerp_row_wise: true },
    });
    const expectedRows = zeros(size);
    for (let r = 0; r < rows; r++) {
      const part = slerpVectors(
        t,
        models[0]!.slice(r * cols, (r + 1) * cols),
        models[1]!.slice(r * cols, (r + 1) * cols),
      );
      part.forEach((v, i) => {
        expectedRows[r * cols + i] = v;
      });
    }
    expect(rowWise.tensor.toFloat32()).toBeAllClose(expectedRows, tight);
    const columnWise = mergeTensors({
      method: 'nuslerp',
      models: pair,
      shape,
      modelParameters: w,
      parameters: { nuslerp_flatten: false },
      chunkElements: cols * 5,
    });
    const expectedColumns = zeros(size);
    for (let c = 0; c < cols; c++) {
      const column = (m: number[]) => Array.from({ length: rows }, (_, r) => m[r * cols + c]!);
      const part = slerpVectors(t, column(models[0]!), column(models[1]!));
      for (let r = 0; r < rows; r++) expectedColumns[r * cols + c] = part[r]!;
    }
    expect(columnWise.tensor.toFloat32()).toBeAllClose(expectedColumns, tight);
  });

  it('multislerp with and without a base', () => {
    const w = [0.2, 0.3, 0.5];
    const reference = (vectors: number[][]) => {
      const norms = vectors.map(norm);
      const units = vectors.map((v, i) => scale(v, 1 / (norms[i]! + 1e-8)));
      let mean = zeros(size);
      units.forEach((u, i) => {
        mean = add(mean, scale(u, w[i]!));
      });
      mean = scale(mean, 1 / norm(mean));
      let tangent = zeros(size);
      units.forEach((u, i) => {
        tangent = add(tangent, scale(sub(u, scale(mean, dot(u, mean))), w[i]!));
      });
      const tn = norm(tangent);
      const direction = add(scale(mean, Math.cos(tn)), scale(tangent, Math.sin(tn) / tn));
      return scale(
        direction,
        norms.reduce((a, n, i) => a + n * w[i]!, 0),
      );
    };
    const modelParameters = w.map((weight) => ({ weight: weight * 10 })); // normalised inside
    const withBase = mergeTensors({
      method: 'multislerp',
      base: base32,
      models: models32,
      shape,
      modelParameters,
    });
    expect(withBase.tensor.toFloat32()).toBeAllClose(add(base, reference(deltas)), tight);
    const plain = mergeTensors({ method: 'multislerp', models: models32, shape, modelParameters });
    expect(plain.tensor.toFloat32()).toBeAllClose(reference(models), tight);
  });

  it('karcher mean on the sphere', () => {
    const vectors = [base, ...models.slice(0, 2)].map((v, i) =>
      i === 2 ? scale(v, -0.5).map((x, k) => x + (k % 3)) : v,
    );
    const norms = vectors.map(norm);
    const units = vectors.map((v, i) => scale(v, 1 / norms[i]!));
    const alpha = 1 / 3;
    let u = zeros(size);
    for (const x of units) u = add(u, scale(x, alpha));
    u = scale(u, 1 / norm(u));
    for (let iteration = 0; iteration < 10; iteration++) {
      let tangent = zeros(size);
      for (const x of units) {
        const c = Math.min(1, Math.max(-1, dot(u, x)));
        const theta = Math.acos(c);
        if (theta < 1e-5) continue;
        tangent = add(tangent, scale(sub(x, scale(u, c)), (alpha * theta) / Math.sin(theta)));
      }
      const tn = norm(tangent);
      if (tn < 1e-5) break;
      u = add(scale(u, Math.cos(tn)), scale(tangent, Math.sin(tn) / tn));
      u = scale(u, 1 / norm(u));
    }
    const expected = scale(u, alpha * norms.reduce((a, b) => a + b, 0));
    const got = mergeTensors({ method: 'karcher', models: vectors.map((v) => Float32Array.from(v)), shape });
    expect(got.tensor.toFloat32()).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-5 });
  });

  it('model_stock, flat and filter-wise', () => {
    const stock = (ds: number[][]) => {
      let c = 0;
      let pairs = 0;
      for (let i = 0; i < ds.length; i++)
        for (let j = i + 1; j < ds.length; j++) {
          c += dot(ds[i]!, ds[j]!) / (norm(ds[i]!) * norm(ds[j]!));
          pairs++;
        }
      c /= pairs;
      return (ds.length * c) / (1 + (ds.length - 1) * c);
    };
    // make the deltas correlated so t is well inside (0, 1)
    const shared = seededData(9, size, 0.1);
    const correlated32 = models32.map((m) => m.map((v, i) => v + shared[i]!));
    const correlated = correlated32.map(toF64);
    const ds = correlated.map((m) => sub(m, base));
    const t = stock(ds);
    const expected = zeros(size).map(
      (_, k) => (t * correlated.reduce((a, m) => a + m[k]!, 0)) / 3 + (1 - t) * base[k]!,
    );
    expect(
      mergeTensors({ method: 'model_stock', base: base32, models: correlated32, shape }).tensor.toFloat32(),
    ).toBeAllClose(expected, tight);
    const rowExpected = zeros(size);
    for (let r = 0; r < rows; r++) {
      const slice = (v: number[]) => v.slice(r * cols, (r + 1) * cols);
      const tr = stock(ds.map(slice));
      for (let c = 0; c < cols; c++) {
        const k = r * cols + c;
        rowExpected[k] = (tr * correlated.reduce((a, m) => a + m[k]!, 0)) / 3 + (1 - tr) * base[k]!;
      }
    }
    const rowWise = mergeTensors({
      method: 'model_stock',
      base: base32,
      models: correlated32,
      shape,
      parameters: { filter_wise: true },
    });
    expect(rowWise.tensor.toFloat32()).toBeAllClose(rowExpected, tight);
  });

  it('sce', () => {
    const topk = 0.4;
    const variance = zeros(size).map((_, k) => {
      const mean = deltas.reduce((a, d) => a + d[k]!, 0) / 3;
      return deltas.reduce((a, d) => a + (d[k]! - mean) ** 2, 0) / 3;
    });
    const count = Math.floor(topk * variance.filter((v) => v !== 0).length);
    const order = variance.map((_, i) => i).sort((i, j) => variance[j]! - variance[i]! || i - j);
    const keep = new Set(order.slice(0, count));
    const masked = deltas.map((d) => d.map((v, k) => (keep.has(k) ? v : 0)));
    const energy = masked.map((d) => dot(d, d) / size);
    const total = energy.reduce((a, b) => a + b, 0);
    const w = energy.map((e) => e / total);
    const expected = zeros(size).map((_, k) => {
      const majority = masked.reduce((a, d) => a + d[k]!, 0) >= 0 ? 1 : -1;
      let sum = 0;
      let divisor = 0;
      masked.forEach((d, i) => {
        if (Math.sign(d[k]!) === majority) {
          sum += w[i]! * d[k]!;
          divisor += w[i]!;
        }
      });
      return base[k]! + (divisor > 0 ? sum / divisor : 0);
    });
    expect(run('sce', { parameters: { select_topk: topk } })).toBeAllClose(expected, tight);
  });

  it('ram and ramplus_tl', () => {
    const epsilon = 0.05; // many deltas fall under it, so unique and shared entries both occur
    const active = deltas.map((d) => d.map((v) => Math.abs(v) > epsilon));
    const counts = zeros(size).map((_, k) => active.filter((a) => a[k]).length);
    const ramOf = (scales: number[]) =>
      zeros(size).map((_, k) => {
        const c = counts[k]!;
        if (c === 0) return base[k]!;
        const owners = deltas.map((_, i) => i).filter((i) => active[i]![k]);
        const sum = owners.reduce((a, i) => a + deltas[i]![k]!, 0);
        return base[k]! + (c === 1 ? sum * scales[owners[0]!]! : sum / c);
      });
    expect(run('ram', { parameters: { epsilon } })).toBeAllClose(ramOf([1, 1, 1]), tight);
    const scales = deltas.map((_, i) => {
      let shared = 0;
      let unique = 0;
      for (let k = 0; k < size; k++) if (active[i]![k]) counts[k] === 1 ? unique++ : shared++;
      return 1 + 0.1 * Math.min(0.2, Math.max(0, unique > 0 ? shared / unique : 0));
    });
    expect(scales.some((s) => s > 1)).toBe(true);
    expect(run('ramplus_tl', { parameters: { epsilon } })).toBeAllClose(ramOf(scales), tight);
  });

  it('nearswap', () => {
    const t = 0.05;
    const m = models[0]!;
    const expected = base.map((b, k) => {
      const w = Math.min(1, Math.max(0, t / Math.abs(b - m[k]!)));
      return w * m[k]! + (1 - w) * b;
    });
    expect(
      mergeTensors({
        method: 'nearswap',
        base: base32,
        models: [models32[0]!],
        shape,
        parameters: { t },
      }).tensor.toFloat32(),
    ).toBeAllClose(expected, tight);
  });

  it('arcee_fusion keeps changes above median + 1.5·IQR of |Δ|·KL', () => {
    const m = models[0]!;
    const softmax = (v: number[]) => {
      const e = v.map((x) => Math.exp(x + 1e-8));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s + 1e-8);
    };
    const importance = zeros(size);
    for (let r = 0; r < rows; r++) {
      const p = softmax(m.slice(r * cols, (r + 1) * cols));
      const q = softmax(base.slice(r * cols, (r + 1) * cols));
      const kl = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]!), 0);
      for (let c = 0; c < cols; c++)
        importance[r * cols + c] = Math.abs(m[r * cols + c]! - base[r * cols + c]!) * kl;
    }
    const sorted = [...importance].sort((a, b) => a - b);
    const quantile = (q: number) => {
      const pos = q * (size - 1);
      const lo = Math.floor(pos);
      return sorted[lo]! + (sorted[Math.ceil(pos)]! - sorted[lo]!) * (pos - lo);
    };
    const threshold = quantile(0.5) + 1.5 * (quantile(0.75) - quantile(0.25));
    const expected = base.map((b, k) => (importance[k]! >= threshold ? m[k]! : b));
    const got = mergeTensors({
      method: 'arcee_fusion',
      base: base32,
      models: [models32[0]!],
      shape,
    }).tensor.toFloat32();
    expect(got).toBeAllClose(expected, tight);
    const changed = expected.filter((v, k) => v !== base[k]).length;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(size / 2);
  });

  it('passthrough scales the one input', () => {
    const got = mergeTensors({
      method: 'passthrough',
      models: [models32[0]!],
      shape,
      modelParameters: [{ scale: 0.5 }],
    });
    expect(got.tensor.toFloat32()).toBeAllClose(scale(models[0]!, 0.5), tight);
  });
});

describe('row chunking does not change results', () => {
  const cases: [string, Partial<Parameters<typeof mergeTensors>[0]>][] = [
    ['ties', { modelParameters: [0.5, 0.3, 0.2].map((weight) => ({ weight, density: 0.3 })) }],
    ['dare_ties', { modelParameters: [0.5, 0.3, 0.2].map((weight) => ({ weight, density: 0.3 })), seed: 3 }],
    [
      'breadcrumbs_ties',
      { modelParameters: [0.5, 0.3, 0.2].map((weight) => ({ weight, density: 0.5, gamma: 0.05 })) },
    ],
    ['della', { modelParameters: [0.5, 0.3, 0.2].map((weight) => ({ weight, density: 0.5 })), seed: 3 }],
    ['sce', { parameters: { select_topk: 0.3 } }],
    ['model_stock', { parameters: { filter_wise: true } }],
    ['multislerp', { modelParameters: [{ weight: 1 }, { weight: 2 }, { weight: 3 }] }],
    ['ramplus_tl', { parameters: { epsilon: 0.05 } }],
  ];
  it.each(cases)('%s', (method, options) => {
    const whole = run(method, { ...options, chunkElements: 1 << 20 });
    const chunked = run(method, { ...options, chunkElements: 25 });
    expect(Array.from(chunked)).toEqual(Array.from(whole));
    // without the between-pass cache (what huge tensors get) the result is the same
    const uncached = run(method, { ...options, chunkElements: 25, cacheBytes: 0 });
    expect(Array.from(uncached)).toEqual(Array.from(whole));
  });
});
