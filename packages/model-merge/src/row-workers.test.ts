// Neither row workers nor the SIMD kernels may change a single output byte: the same merges with the
// plain JS kernels and with SIMD on threads 1, 2 and 3 are compared file by file, on models with
// tensors large enough to be split between the workers.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mergeModels } from './merge-model';
import {
  loadStories,
  perturb,
  type StoriesWeights,
  storiesFiles,
  writeStoriesFolder,
} from './test-support/stories-model';

/**
 * stories260K plus an untied lm_head of 1100 × 512 (above the row-worker threshold of 2^19
 * elements): random, or `near` plus small noise, so that τ = head − near is quantised like a real
 * fine-tune's bf16 deltas (TIES then learns its threshold in one pass on the workers: see
 * histogram-passes.ts; a random head takes the two-pass way).
 */
function withLargeHead(weights: StoriesWeights, seed: number, near?: Float32Array): StoriesWeights {
  let state = seed | 1;
  const head = Float32Array.from({ length: 1100 * 512 }, (_, i) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const noise = (state >>> 0) / 4294967296 - 0.5;
    return near ? near[i]! + noise * 0.004 : noise * 0.1;
  });
  return {
    tensors: new Map([...weights.tensors, ['lm_head.weight', head]]),
    shapes: new Map([...weights.shapes, ['lm_head.weight', [1100, 512]]]),
    config: { ...weights.config, tie_word_embeddings: false },
  };
}

describeWithShared('JS kernels vs SIMD kernels on threads 1, 2 and 3', storiesFiles, () => {
  let root: string;
  const folders: Record<string, string> = {};

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'meld-threads-'));
    const stories = loadStories();
    const base = withLargeHead(stories, 100);
    folders.base = writeStoriesFolder(join(root, 'base'), base, { dtype: 'bf16' });
    const baseHead = base.tensors.get('lm_head.weight')!;
    for (const [name, seed, dtype, near] of [
      ['a', 11, 'bf16', false],
      ['b', 12, 'bf16', false],
      ['nearA', 15, 'bf16', true],
      ['nearB', 16, 'bf16', true],
      ['f32a', 13, 'f32', false],
      ['f32b', 14, 'f32', false],
    ] as const) {
      const weights = withLargeHead(perturb(stories, seed, 0.05), seed + 100, near ? baseHead : undefined);
      folders[name] = writeStoriesFolder(join(root, name), weights, { dtype });
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  // [method, out dtype, model, model, per-model parameters, whether row workers run it]
  const cases = [
    ['linear', 'bf16', 'a', 'b', '', true],
    ['linear', 'float16', 'f32a', 'b', '', true],
    ['linear', 'float32', 'f32a', 'b', '', true],
    ['ties', 'bf16', 'a', 'b', 'density: 0.5, ', true],
    ['ties', 'bf16', 'nearA', 'nearB', 'density: 0.5, ', true],
    ['ties', 'bf16', 'nearA', 'b', 'density: 0.3, ', true],
    ['dare_ties', 'bf16', 'a', 'b', 'density: 0.5, ', true],
    ['task_arithmetic', 'float16', 'f32a', 'b', '', true],
    ['della', 'bf16', 'a', 'b', 'density: 0.5, ', true],
  ] as const;
  for (const [method, dtype, first, second, extra, parallelPath] of cases) {
    it(`${method} (${first}, ${second} → ${dtype}) writes the same bytes in JS and with SIMD on 1, 2 and 3 threads`, () => {
      const config = `
merge_method: ${method}
base_model: ${folders.base}
models:
  - model: ${folders.base}
    parameters: { weight: 0.2 }
  - model: ${folders[first]}
    parameters: { ${extra}weight: 0.5 }
  - model: ${folders[second]}
    parameters: { ${extra}weight: 0.3 }
dtype: ${dtype}
random_seed: 7
`;
      // 0: one thread, plain JS kernels; 4: two threads with an arena too small for the large
      // head, which then runs on heap buffers and the JS kernels while the rest uses the arena
      const outputs = [0, 1, 2, 3, 4].map((run) => {
        const outputDir = join(root, `${method}-${first}-${second}-${dtype}-${run}`);
        const result = mergeModels({
          config,
          outputDir,
          threads: run === 4 ? 2 : Math.max(1, run),
          simd: run > 0,
          ...(run === 4 ? { arenaBytes: (64 + 3) << 20 } : {}),
          outShardBytes: 1_000_000,
        });
        return { outputDir, result };
      });
      const [single, ...others] = outputs as [(typeof outputs)[0], ...typeof outputs];
      const parallel = others.slice(1, 3);
      expect(single.result.parallelTensors).toBe(0);
      expect(others[0]!.result.parallelTensors).toBe(0);
      const files = readdirSync(single.outputDir).sort();
      expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(1);
      for (const run of parallel) expect(run.result.parallelTensors > 0).toBe(parallelPath);
      for (const run of others) {
        expect(readdirSync(run.outputDir).sort()).toEqual(files);
        for (const file of files) {
          const a = readFileSync(join(single.outputDir, file));
          const b = readFileSync(join(run.outputDir, file));
          expect(Buffer.compare(a, b), `${run.outputDir}/${file}`).toBe(0);
        }
      }
    });
  }
});
