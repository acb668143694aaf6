// applyTopK on data shaped like TIES deltas: a large share of the elements ties the threshold exactly, so
// the kernel's two block modes (every tie kept or none; the exact per-lane rule where seen reaches quota)
// and the boundary between them are all exercised, against the plain-JS mirror and against an independent
// statement of the rule (the first quota − seen ties in element order are kept).
import { webAssembly } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { loadMergeKernels, type MergeKernelExports } from './kernels';
import * as reference from './reference';
import { Arena, bitDifferences, seededRandom } from './simd-test-support';

const wasm = webAssembly();
const memory = wasm?.Memory && new wasm.Memory({ initial: 16, maximum: 65536, shared: true });
const loaded = memory && loadMergeKernels(memory);

const LAST = 0.000244140625; // 2^-12, a typical threshold of bf16 deltas

/** n values of which about `tieShare` have |v| = LAST, the rest above, below, zero or special. */
function tieHeavy(n: number, tieShare: number, random: () => number): Float32Array {
  const others = [
    0,
    -0,
    LAST / 2,
    -LAST / 2,
    2 * LAST,
    -3 * LAST,
    1e-30,
    Number.NaN,
    Number.NEGATIVE_INFINITY,
  ];
  return Float32Array.from({ length: n }, () => {
    if (random() < tieShare) return random() < 0.5 ? LAST : -LAST;
    return random() < 0.9 ? (random() - 0.5) * 4 * LAST : others[Math.floor(random() * others.length)]!;
  });
}

/** [seen, quota] pairs around the tie count `ties`, including negative values and seen near i32 overflow. */
function quotas(ties: number): [number, number][] {
  const max = 0x7fffffff;
  return [
    [0, 0],
    [0, 1],
    [0, Math.floor(ties / 3)],
    [0, ties - 1],
    [0, ties],
    [0, ties + 1],
    [17, 17 + Math.floor((2 * ties) / 3)],
    [ties, Math.floor(ties / 2)],
    [-5, 3],
    [-600, -10],
    [3, -0x80000000],
    [max - Math.floor(ties / 2), max],
    [max - 3, -0x80000000],
    [max - 3, 0],
    [max - Math.floor(ties / 2), 5],
    [max - 700, 0x7ffffe00],
  ];
}

describe.skipIf(loaded === undefined)('applyTopK with many ties at the threshold', () => {
  const kernels = loaded as MergeKernelExports;
  const arena = new Arena(memory!);
  const result = () => arena.place(new Int32Array(1), 0);
  const seenAt = (pointer: number) => new Int32Array(arena.copy(pointer, 4).buffer)[0]!;

  const lengths = [1, 3, 5, 7, 9, 13, 511, 512, 513, 1021, 1029, 2051, 4099];
  it.each(lengths)('matches the mirror bit for bit (n = %i)', (n) => {
    const random = seededRandom(n);
    for (const tieShare of [0.5, 0.2, 0.02]) {
      arena.reset();
      const values = tieHeavy(n, tieShare, random);
      const ties = reference.countEqualMagnitude(values, n, LAST);
      const out = result();
      for (const [seen, quota] of quotas(ties)) {
        for (const factor of [1.5, -0.25]) {
          const pointer = arena.place(values, [4, 8, 12, 0][n % 4]!);
          kernels.applyTopK(pointer, n, LAST, quota, seen, factor, out);
          const expected = values.slice();
          const expectedSeen = reference.applyTopK(expected, n, LAST, quota, seen, factor);
          expect(seenAt(out), `seen ${seen} quota ${quota}`).toBe(expectedSeen);
          expect(bitDifferences(arena.floats(pointer, n), expected), `seen ${seen} quota ${quota}`).toEqual(
            [],
          );
          expect(arena.guardIntact(pointer, n * 4)).toBe(true);
        }
      }
    }
  });

  it('keeps exactly the first quota − seen ties in element order, and every larger magnitude', () => {
    const random = seededRandom(5);
    const n = 3001;
    const values = tieHeavy(n, 0.4, random);
    const tieIndices = [...values.keys()].filter((i) => Math.abs(values[i]!) === LAST);
    const out = result();
    for (const [seen, quota] of [
      [0, 0],
      [0, 1],
      [10, 10 + 700],
      [100, 90],
      [0, tieIndices.length],
    ] as const) {
      const pointer = arena.place(values, 4);
      kernels.applyTopK(pointer, n, LAST, quota, seen, 1, out);
      expect(seenAt(out)).toBe(seen + tieIndices.length);
      const kept = arena.floats(pointer, n);
      const keptTies = Math.max(0, Math.min(quota - seen, tieIndices.length));
      tieIndices.forEach((index, order) => {
        expect(kept[index], `tie ${order} at ${index}`).toBe((order < keptTies ? 1 : 0) * values[index]!);
      });
      for (let i = 0; i < n; i++) {
        const magnitude = Math.abs(values[i]!);
        if (magnitude > LAST) expect(kept[i]).toBe(values[i]);
        else if (magnitude < LAST) expect(kept[i]).toBe(0 * values[i]!); // −0 for a dropped negative
      }
    }
  });

  it('gives the same result in chunks as in one call (seen carried across odd chunk lengths)', () => {
    const random = seededRandom(9);
    const n = 5000;
    const values = tieHeavy(n, 0.3, random);
    const ties = reference.countEqualMagnitude(values, n, LAST);
    const out = result();
    const whole = arena.place(values, 8);
    kernels.applyTopK(whole, n, LAST, Math.floor(ties / 2), 0, 2, out);
    const wholeSeen = seenAt(out);
    const chunked = arena.place(values, 12);
    let seen = 0;
    for (let start = 0, size = 1; start < n; start += size, size = (size * 7 + 3) % 1500) {
      const length = Math.min(size, n - start);
      kernels.applyTopK(chunked + 4 * start, length, LAST, Math.floor(ties / 2), seen, 2, out);
      seen = seenAt(out);
    }
    expect(seen).toBe(wholeSeen);
    expect(bitDifferences(arena.floats(chunked, n), arena.floats(whole, n))).toEqual([]);
  });
});
