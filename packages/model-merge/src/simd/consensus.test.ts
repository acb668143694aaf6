// consensus2's divisor comes from a four-entry table (one per agreement pattern) built in the prologue;
// these cases cover divisors that are negative, signed zeros, below ε, NaN and infinite, on data shaped
// like sparsified TIES deltas (many exact zeros, equal magnitudes of opposite sign), against the mirror.
import { webAssembly } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { loadMergeKernels, type MergeKernelExports } from './kernels';
import * as reference from './reference';
import { Arena, bitDifferences, floatsOf, randomF32Bits, seededRandom } from './simd-test-support';

const wasm = webAssembly();
const memory = wasm?.Memory && new wasm.Memory({ initial: 16, maximum: 65536, shared: true });
const loaded = memory && loadMergeKernels(memory);

/** Sparsified deltas: zeros, ±2^-12 ties, small values, and some awkward bit patterns. */
function sparseDeltas(n: number, random: () => number): Float32Array {
  const awkward = floatsOf(randomF32Bits(n, random));
  return Float32Array.from({ length: n }, (_, i) => {
    const kind = random();
    if (kind < 0.4) return random() < 0.5 ? 0 : -0;
    if (kind < 0.7) return random() < 0.5 ? 2 ** -12 : -(2 ** -12);
    if (kind < 0.9) return (random() - 0.5) * 0.01;
    return awkward[i]!;
  });
}

// fx, fy, wx, wy, dx, dy, lambda (normalize on)
const parameterSets = [
  [1, 1, 0.5, 0.5, 0.5, 0.5, 1],
  [1, -1, 0.7, 0.3, -0.5, 0.25, 1.5],
  [1, 1, 1, 1, 1, -1, 1], // both agree: divisor 0 → 1
  [1, 1, 1, 1, -1e-9, 5e-9, 1], // every divisor below ε
  [0.5, 2, 1, 1, -0, 0, 1], // signed zeros
  [1, 1, 1, 1, Number.NaN, 1, 1],
  [1, 1, 1, 1, Number.POSITIVE_INFINITY, -3, 0.25],
  [-2, 0.5, 0.1, 3, 3e38, 3e38, -1], // dx + dy overflows to inf
] as const;

describe.skipIf(loaded === undefined)('consensus2 divisors', () => {
  const kernels = loaded as MergeKernelExports;
  const arena = new Arena(memory!);

  it.each([1, 3, 5, 8, 13, 1027])('match the mirror bit for bit on sparse deltas (n = %i)', (n) => {
    const random = seededRandom(40 + n);
    const x = sparseDeltas(n, random);
    const y = sparseDeltas(n, random);
    // opposite signs of equal magnitude, where the sign election hinges on fx, fy
    for (let i = 0; i < n; i += 5) y[i] = -x[i]!;
    const b = floatsOf(randomF32Bits(n, random));
    for (const [fx, fy, wx, wy, dx, dy, lambda] of parameterSets) {
      arena.reset();
      const [xs, ys, bs] = [arena.place(x, 4), arena.place(y, 8), arena.place(b, 12)];
      const out = arena.place(new Float32Array(n), 0);
      kernels.consensus2(out, bs, xs, ys, n, fx, fy, wx, wy, dx, dy, 1, lambda);
      const expected = new Float32Array(n);
      reference.consensus2(expected, b, x, y, n, fx, fy, wx, wy, dx, dy, 1, lambda);
      const label = `parameters ${[fx, fy, wx, wy, dx, dy, lambda].join(', ')}`;
      expect(bitDifferences(arena.floats(out, n), expected), label).toEqual([]);
      expect(arena.guardIntact(out, n * 4)).toBe(true);
    }
  });
});
