// LoRA combinations, MergeRepair's continual merging and harness, merge-and-unload and extraction,
// each against a float64 reference written here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adapterDelta,
  createLoraAdapter,
  type LoraAdapter,
  openSafetensorsModel,
  readPeftAdapter,
  Tensor,
} from '@meld/tensor-core';
import { describeWithShared } from '@meld/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededData } from '../methods/reference.test-helpers';
import {
  loadStories,
  type StoriesWeights,
  storiesFiles,
  writeStoriesFolder,
} from '../test-support/stories-model';
import { applyLoraAdapter } from './apply';
import { combineLoraAdapters } from './combine';
import { continualMerge, continualWeights, evaluateAdapterCombinations, formatScoreTable } from './continual';
import { extractLora } from './extract';

const outer = 12;
const inner = 10;
const modules = ['model.layers.0.self_attn.q_proj', 'model.layers.1.mlp.up_proj'];

function adapter(seed: number, rank: number, alpha: number, useRslora = false): LoraAdapter {
  return createLoraAdapter(
    { r: rank, lora_alpha: alpha, use_rslora: useRslora, target_modules: ['q_proj', 'up_proj'] },
    modules.map((module, i) => ({
      module,
      kind: 'linear' as const,
      a: Tensor.fromF32(seededData(seed * 10 + i, rank * inner, 0.5), [rank, inner]),
      b: Tensor.fromF32(seededData(seed * 10 + i + 5, outer * rank, 0.5), [outer, rank]),
    })),
  );
}

/** s·B·A in float64. */
function delta64(a: LoraAdapter, module: string): number[] {
  const w = a.modules.get(module)!;
  const rank = w.a.shape[0]!;
  const s = a.config.use_rslora ? a.config.lora_alpha / Math.sqrt(rank) : a.config.lora_alpha / rank;
  const A = w.a.toFloat32();
  const B = w.b.toFloat32();
  const out = new Array<number>(outer * inner).fill(0);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++)
      for (let k = 0; k < rank; k++) out[o * inner + i]! += s * B[o * rank + k]! * A[k * inner + i]!;
  return out;
}

const weightedSum = (adapters: LoraAdapter[], weights: number[], module: string) => {
  const out = new Array<number>(outer * inner).fill(0);
  adapters.forEach((a, j) => {
    delta64(a, module).forEach((v, k) => {
      out[k]! += weights[j]! * v;
    });
  });
  return out;
};

const a1 = adapter(1, 2, 4);
const a2 = adapter(2, 3, 6);
const a3 = adapter(3, 4, 8, true); // rsLoRA: s = 8/√4 = 4
const weights = [0.5, 1.5, -0.7];

describe('combineLoraAdapters', () => {
  it('cat is exact: B′A′ = Σ wi·si·Bi·Ai, rank Σri, scale 1 even with rsLoRA inputs', () => {
    const { adapter: merged } = combineLoraAdapters([a1, a2, a3], { combination: 'cat', weights });
    expect(merged.config.r).toBe(9);
    expect(merged.config.lora_alpha).toBe(9);
    expect(merged.config.use_rslora).toBe(false);
    for (const module of modules) {
      expect(adapterDelta(merged, module).toFloat32()).toBeAllClose(
        weightedSum([a1, a2, a3], weights, module),
        { rtol: 1e-5, atol: 1e-5 },
      );
    }
  });

  it('svd is exact at full rank and the weights are applied once (PEFT double scaling fixed)', () => {
    const { adapter: merged } = combineLoraAdapters([a1, a2, a3], {
      combination: 'svd',
      weights,
      svdRank: 9,
    });
    for (const module of modules) {
      expect(adapterDelta(merged, module).toFloat32()).toBeAllClose(
        weightedSum([a1, a2, a3], weights, module),
        { rtol: 1e-4, atol: 1e-4 },
      );
    }
    const truncated = combineLoraAdapters([a1, a2, a3], { combination: 'svd', weights }).adapter;
    expect(truncated.config.r).toBe(4); // the largest input rank
    expect(truncated.modules.get(modules[0]!)!.a.shape).toEqual([4, inner]);
  });

  it('ties_svd merges the full deltas with PEFT ties (unweighted sign, count-normalised) then factors them', () => {
    const density = 0.5;
    const deltas = [a1, a2].map((a) => delta64(a, modules[0]!));
    const trimmed = deltas.map((d) => {
      const order = d.map((_, i) => i).sort((i, j) => Math.abs(d[j]!) - Math.abs(d[i]!) || i - j);
      const keep = new Set(order.slice(0, Math.floor(density * d.length)));
      return d.map((v, i) => (keep.has(i) ? v : 0));
    });
    const w = [0.8, 1.2];
    const expected = trimmed[0]!.map((_, k) => {
      const majority = trimmed.reduce((s, d) => s + d[k]!, 0) >= 0 ? 1 : -1;
      let sum = 0;
      let count = 0;
      trimmed.forEach((d, i) => {
        if (Math.sign(d[k]!) === majority) {
          sum += w[i]! * d[k]!;
          count++;
        }
      });
      return sum / Math.max(1, count);
    });
    const merged = combineLoraAdapters([a1, a2], {
      combination: 'ties_svd',
      weights: w,
      density,
      svdRank: 10,
    }).adapter;
    expect(adapterDelta(merged, modules[0]!).toFloat32()).toBeAllClose(expected, { rtol: 1e-4, atol: 1e-4 });
  });

  it('linear follows PEFT: √-weighted A and B stacks, which leaves cross terms (peft#3004)', () => {
    const b1 = adapter(4, 2, 4);
    const b2 = adapter(5, 2, 2);
    const w = [0.6, 0.4];
    const { adapter: merged } = combineLoraAdapters([b1, b2], { combination: 'linear', weights: w });
    const module = modules[1]!;
    const s = [2, 1];
    const expectedA = b1.modules
      .get(module)!
      .a.toFloat32()
      .map(
        (v, k) =>
          Math.sqrt(w[0]! * s[0]!) * v + Math.sqrt(w[1]! * s[1]!) * b2.modules.get(module)!.a.toFloat32()[k]!,
      );
    expect(merged.modules.get(module)!.a.toFloat32()).toBeAllClose(expectedA, { rtol: 1e-5, atol: 1e-6 });
    expect(adapterDelta(merged, module).toFloat32()).not.toBeAllClose(weightedSum([b1, b2], w, module), {
      rtol: 1e-3,
      atol: 1e-3,
    });
  });

  it('mean averages every A and every B separately (MergeRepair), keeping r and alpha', () => {
    const c1 = adapter(6, 2, 4);
    const c2 = adapter(7, 2, 4);
    const { adapter: merged } = combineLoraAdapters([c1, c2], { combination: 'mean' });
    expect(merged.config.r).toBe(2);
    expect(merged.config.lora_alpha).toBe(4);
    for (const module of modules) {
      const expected = c1.modules
        .get(module)!
        .b.toFloat32()
        .map((v, k) => (v + c2.modules.get(module)!.b.toFloat32()[k]!) / 2);
      expect(merged.modules.get(module)!.b.toFloat32()).toBeAllClose(expected, { rtol: 1e-6, atol: 1e-7 });
    }
  });
});

describe('MergeRepair continual merging and the harness', () => {
  const list = [adapter(8, 2, 4), adapter(9, 2, 4), adapter(10, 2, 4), adapter(11, 2, 4)];

  it('Mk = (Mk−1 + Ak)/2 gives weights 2^−(n−1), 2^−(n−1), …, 1/2', () => {
    expect(continualWeights(4)).toEqual([1 / 8, 1 / 8, 1 / 4, 1 / 2]);
    const merged = continualMerge(list).adapter;
    const w = continualWeights(4);
    const module = modules[0]!;
    const expected = list[0]!.modules
      .get(module)!
      .a.toFloat32()
      .map((_, k) => list.reduce((s, a, i) => s + w[i]! * a.modules.get(module)!.a.toFloat32()[k]!, 0));
    expect(merged.modules.get(module)!.a.toFloat32()).toBeAllClose(expected, { rtol: 1e-6, atol: 1e-7 });
  });

  it('scores every subset and order with a user function and reports a table', async () => {
    const target = list[2]!;
    const targetDelta = delta64(target, modules[0]!);
    const score = (merged: LoraAdapter) => {
      const d = adapterDelta(merged, modules[0]!).toFloat32();
      return -Math.sqrt(d.reduce((s, v, k) => s + (v - targetDelta[k]!) ** 2, 0));
    };
    const named = { T1: list[0]!, T2: list[1]!, T3: list[2]!, T4: list[3]! };
    const subsets = await evaluateAdapterCombinations({ adapters: named, mode: 'subsets', score });
    expect(subsets.length).toBe(6 + 4 + 1);
    const orders = await evaluateAdapterCombinations({
      adapters: named,
      mode: 'orders',
      minSize: 3,
      maxSize: 3,
      mustInclude: ['T1'],
      score,
    });
    expect(orders.length).toBe(18); // 3!·C(3,2) orders of length 3 containing T1
    // the best continual order ends with the target (weight 1/2)
    expect(orders[0]!.names.at(-1)).toBe('T3');
    expect(formatScoreTable(orders)).toMatch(/\| 1 \| .* → T3 \|/);
  });
});

describeWithShared('merge-and-unload and extract-lora on stories260K', storiesFiles, () => {
  let root: string;
  let base: StoriesWeights;
  let baseFolder: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'meld-lora-'));
    base = loadStories();
    baseFolder = writeStoriesFolder(join(root, 'base'), base);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function storiesAdapter(seed: number, rank: number, useRslora: boolean): LoraAdapter {
    const targets = ['model.layers.0.self_attn.q_proj', 'model.layers.2.mlp.down_proj'];
    return createLoraAdapter(
      { r: rank, lora_alpha: 8, use_rslora: useRslora, target_modules: ['q_proj', 'down_proj'] },
      targets.map((module, i) => {
        const [out, inp] = base.shapes.get(`${module}.weight`)! as [number, number];
        return {
          module,
          kind: 'linear' as const,
          a: Tensor.fromF32(seededData(seed + i, rank * inp, 0.05), [rank, inp]),
          b: Tensor.fromF32(seededData(seed + i + 7, out * rank, 0.05), [out, rank]),
        };
      }),
    );
  }

  it('apply writes W + s·B·A (s = α/√r with rsLoRA) and leaves other tensors bit-identical', () => {
    const adapter = storiesAdapter(21, 4, true);
    const out = join(root, 'applied');
    const result = applyLoraAdapter({ base: baseFolder, adapter, outputDir: out });
    expect(result.modulesApplied).toBe(2);
    const model = openSafetensorsModel(out);
    const name = 'model.layers.2.mlp.down_proj.weight';
    const [rows, cols] = base.shapes.get(name)! as [number, number];
    const w = adapter.modules.get('model.layers.2.mlp.down_proj')!;
    const A = w.a.toFloat32();
    const B = w.b.toFloat32();
    const s = 8 / Math.sqrt(4);
    const W = base.tensors.get(name)!;
    const expected = Array.from(W, (v, k) => {
      const o = Math.floor(k / cols);
      const i = k % cols;
      let sum = 0;
      for (let j = 0; j < 4; j++) sum += B[o * 4 + j]! * A[j * cols + i]!;
      return v + s * sum;
    });
    expect(rows * cols).toBe(expected.length);
    expect(model.readTensor(name).toFloat32()).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-6 });
    expect(Array.from(model.readTensor('model.layers.1.mlp.down_proj.weight').toFloat32())).toEqual(
      Array.from(base.tensors.get('model.layers.1.mlp.down_proj.weight')!),
    );
    model.close();
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toContain('LlamaForCausalLM');
  });

  it('extract recovers a known low-rank fine-tune (rank found by epsilon), saves changed norms whole, and applies back', () => {
    const adapter = storiesAdapter(31, 2, false);
    const tunedFolder = join(root, 'tuned');
    applyLoraAdapter({ base: baseFolder, adapter, outputDir: tunedFolder });
    // also change a norm: not expressible as LoRA, must travel as modules_to_save
    const tunedModel = openSafetensorsModel(tunedFolder);
    const tuned: StoriesWeights = {
      ...base,
      tensors: new Map(tunedModel.names.map((n) => [n, tunedModel.readTensor(n).toFloat32().slice()])),
    };
    tunedModel.close();
    tuned.tensors.set(
      'model.norm.weight',
      tuned.tensors.get('model.norm.weight')!.map((v) => v * 1.1),
    );
    const tunedWithNorm = writeStoriesFolder(join(root, 'tuned-norm'), tuned);
    const out = join(root, 'extracted');
    const result = extractLora({
      base: baseFolder,
      tuned: tunedWithNorm,
      rank: 8,
      epsilon: 1e-4,
      outputDir: out,
    });
    expect([...result.ranks.values()]).toEqual([2, 2]);
    expect(result.modulesToSave).toEqual(['model.norm']);
    const reread = readPeftAdapter(out);
    expect(reread.config.r).toBe(2);
    expect(reread.config.use_rslora).toBe(false);
    const roundTrip = join(root, 'round-trip');
    applyLoraAdapter({ base: baseFolder, adapter: out, outputDir: roundTrip });
    const model = openSafetensorsModel(roundTrip);
    for (const [name, values] of tuned.tensors) {
      expect(model.readTensor(name).toFloat32(), name).toBeAllClose(values, { rtol: 1e-4, atol: 1e-5 });
    }
    model.close();
  });
});
