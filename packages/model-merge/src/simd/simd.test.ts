// The WebAssembly kernels against their plain-JS specification (reference.ts), bit for bit, over awkward
// values (±0, ±inf, NaN payloads, subnormals, bf16 rounding ties), odd lengths and misaligned pointers;
// plus hand-computed values, the existing JS kernels they replace, and a run inside a worker thread.
import { decodeBf16Into, encodeBf16Into, webAssembly } from '@meld/tensor-core';
import { describe, expect, it } from 'vitest';
import { applyTopK as sparsifyApplyTopK } from '../methods/sparsify';
import { consensusKernel } from '../methods/task-arithmetic';
import { loadMergeKernels, type MergeKernelExports, mergeKernelModuleBytes } from './kernels';
import * as reference from './reference';
import {
  Arena,
  bitDifferences,
  differences,
  floatsOf,
  randomBf16Words,
  randomF32Bits,
  seededRandom,
} from './simd-test-support';

const wasm = webAssembly();
const memory = wasm?.Memory && new wasm.Memory({ initial: 16, maximum: 65536, shared: true });
const loaded = memory && loadMergeKernels(memory);

const lengths = [0, 1, 7, 8, 9, 31, 1000];
/** Each length twice, with different misalignments of the bf16 (2-byte) and f32 (4-byte) pointers. */
const cases = lengths.flatMap((n, index) =>
  [0, 1].map((variant) => ({
    n,
    word: [2, 14, 0, 6][(index + variant) % 4]!,
    float: [4, 12, 0, 8][(index + 2 * variant) % 4]!,
    other: [8, 0, 12, 4][(index + variant) % 4]!,
    seed: 1000 * index + variant + 1,
  })),
);
type Case = (typeof cases)[number];

function label({ n, word, float, other }: Case): string {
  return `n=${n} offsets ${word}/${float}/${other}`;
}

describe.skipIf(loaded === undefined)('merge SIMD kernels', () => {
  const kernels = loaded as MergeKernelExports;
  const arena = new Arena(memory!);
  const f32Values = (n: number, random: () => number) => floatsOf(randomF32Bits(n, random));

  /** Runs an f32-output kernel both ways; `run` gets the output pointer, `mirror` the expected array. */
  function checkFloats(
    n: number,
    initial: Float32Array,
    run: (dst: number) => void,
    mirror: (expected: Float32Array) => void,
    misalign: number,
  ): Float32Array {
    const dst = arena.place(initial, misalign);
    run(dst);
    const expected = initial.slice();
    mirror(expected);
    const actual = arena.floats(dst, n);
    expect(bitDifferences(actual, expected)).toEqual([]);
    expect(arena.guardIntact(dst, n * 4)).toBe(true);
    return actual;
  }

  describe.each(cases)('$n elements', (testCase) => {
    const { n, word, float, other, seed } = testCase;
    const random = seededRandom(seed);

    it(`decodeBf16, scaleBf16, axpyBf16, subBf16 (${label(testCase)})`, () => {
      arena.reset();
      const words = randomBf16Words(n, random);
      const src = arena.place(words, word);
      const base = f32Values(n, random);
      const basePointer = arena.place(base, other);
      const decoded = checkFloats(
        n,
        f32Values(n, random),
        (dst) => kernels.decodeBf16(dst, src, n),
        (expected) => reference.decodeBf16(expected, words, n),
        float,
      );
      // decoding moves bits only: NaN payloads survive, as in tensor-core's decodeBf16Into
      expect(bitDifferences(decoded, decodeBf16Into(words, new Float32Array(n)), true)).toEqual([]);
      for (const c of [0.75, -3.1, 0, Number.POSITIVE_INFINITY, 1e-40]) {
        checkFloats(
          n,
          f32Values(n, random),
          (dst) => kernels.scaleBf16(dst, src, n, c),
          (expected) => reference.scaleBf16(expected, words, n, c),
          float,
        );
        checkFloats(
          n,
          f32Values(n, random),
          (dst) => kernels.axpyBf16(dst, src, n, c),
          (expected) => reference.axpyBf16(expected, words, n, c),
          float,
        );
      }
      checkFloats(
        n,
        f32Values(n, random),
        (dst) => kernels.subBf16(dst, src, basePointer, n),
        (expected) => reference.subBf16(expected, words, base, n),
        float,
      );
    });

    it(`scaleF32, axpyF32, subF32 (${label(testCase)})`, () => {
      arena.reset();
      const values = f32Values(n, random);
      const src = arena.place(values, other);
      const base = f32Values(n, random);
      const basePointer = arena.place(base, word * 2);
      for (const c of [0.3, -1, 0, Number.NEGATIVE_INFINITY, 3e38]) {
        checkFloats(
          n,
          f32Values(n, random),
          (dst) => kernels.scaleF32(dst, src, n, c),
          (expected) => reference.scaleF32(expected, values, n, c),
          float,
        );
        checkFloats(
          n,
          f32Values(n, random),
          (dst) => kernels.axpyF32(dst, src, n, c),
          (expected) => reference.axpyF32(expected, values, n, c),
          float,
        );
      }
      checkFloats(
        n,
        f32Values(n, random),
        (dst) => kernels.subF32(dst, src, basePointer, n),
        (expected) => reference.subF32(expected, values, base, n),
        float,
      );
    });

    it(`encodeBf16 is tensor-core's encodeBf16Into (${label(testCase)})`, () => {
      arena.reset();
      const values = f32Values(n, random);
      const src = arena.place(values, float);
      const dst = arena.place(new Uint16Array(n).fill(0x1234), word);
      kernels.encodeBf16(dst, src, n);
      const expected = new Uint16Array(n);
      reference.encodeBf16(expected, values, n);
      expect(differences(arena.words(dst, n), expected)).toEqual([]);
      expect(differences(encodeBf16Into(values, new Uint16Array(n)), expected)).toEqual([]);
      expect(arena.guardIntact(dst, n * 2)).toBe(true);
    });

    it(`histHigh and histLow (${label(testCase)})`, () => {
      arena.reset();
      // half the elements in one high bucket (|x| in [1.5, 1.508)), so histLow finds matches
      const bits = randomF32Bits(n, random);
      for (let i = 0; i < n; i += 2) bits[i] = (((random() < 0.5 ? 0xbfc0 : 0x3fc0) << 16) | (i * 37)) >>> 0;
      const values = floatsOf(bits);
      const src = arena.place(values, float);
      const start = new Uint32Array(4 * 32768).map(() => Math.floor(random() * 5));
      const high = arena.place(start.subarray(0, 32768), 0);
      kernels.histHigh(high, src, n);
      const expectedHigh = start.slice(0, 32768);
      reference.histHigh(expectedHigh, values, n);
      expect(differences(arena.counters(high, 32768), expectedHigh)).toEqual([]);
      expect(arena.guardIntact(high, 4 * 32768)).toBe(true);
      const split = arena.place(start, 4);
      kernels.histHighSplit(split, src, n);
      const expectedSplit = start.slice();
      reference.histHighSplit(expectedSplit, values, n);
      expect(differences(arena.counters(split, 4 * 32768), expectedSplit)).toEqual([]);
      expect(arena.guardIntact(split, 4 * 4 * 32768)).toBe(true);
      kernels.histHighFold(split);
      reference.histHighFold(expectedSplit);
      expect(differences(arena.counters(split, 4 * 32768), expectedSplit)).toEqual([]);
      for (const bucket of [0x3fc0, 0x7fc0, 0, 0x8000 | 0x3fc0, -1]) {
        const low = arena.place(start.subarray(0, 65536), 4);
        kernels.histLow(low, src, n, bucket);
        const expectedLow = start.slice(0, 65536);
        reference.histLow(expectedLow, values, n, bucket);
        expect(differences(arena.counters(low, 65536), expectedLow)).toEqual([]);
      }
    });

    it(`countEqualMagnitude and applyTopK (${label(testCase)})`, () => {
      arena.reset();
      const last = 1.5;
      const choices = [0, -0, 0.5, -0.5, 1.5, -1.5, 1.5, -1.5, 2, -3, Number.NaN, Number.POSITIVE_INFINITY];
      const values = Float32Array.from({ length: n }, () => choices[Math.floor(random() * choices.length)]!);
      const src = arena.place(values, float);
      const result = arena.place(new Int32Array(1), 8);
      kernels.countEqualMagnitude(src, n, last, result);
      const ties = reference.countEqualMagnitude(values, n, last);
      expect(new Int32Array(arena.copy(result, 4).buffer)[0]).toBe(ties);
      for (const [seen, quota, factor] of [
        [0, Math.floor(ties / 2), 2.5],
        [3, ties + 3, -1],
        [5, 2, 1 / 3],
      ] as const) {
        const pointer = arena.place(values, float);
        kernels.applyTopK(pointer, n, last, quota, seen, factor, result);
        const expected = values.slice();
        const expectedSeen = reference.applyTopK(expected, n, last, quota, seen, factor);
        expect(new Int32Array(arena.copy(result, 4).buffer)[0]).toBe(expectedSeen);
        expect(bitDifferences(arena.floats(pointer, n), expected)).toEqual([]);
        expect(arena.guardIntact(pointer, n * 4)).toBe(true);
        // the JS applyTopK of sparsify.ts gives the same bits when the factor is an f32
        const sparsified = values.slice();
        expect(sparsifyApplyTopK(sparsified, last, quota, seen, Math.fround(factor))).toBe(expectedSeen);
        expect(bitDifferences(sparsified, expected)).toEqual([]);
      }
    });

    it(`consensus2 (${label(testCase)})`, () => {
      arena.reset();
      const x = f32Values(n, random);
      const y = f32Values(n, random);
      // plain values too, where sign election is decided by magnitude
      for (let i = 0; i < n; i += 3) [x[i], y[i]] = [random() - 0.5, random() - 0.5];
      const b = f32Values(n, random);
      const [xPointer, yPointer, bPointer] = [
        arena.place(x, float),
        arena.place(y, other),
        arena.place(b, 4),
      ];
      const parameterSets = [
        [1, 1, 0.5, 0.5, 0.5, 0.5, 1, 1],
        [0.3, -2, 1.25, 0.7, 1, 1, 0, 0.9],
        [1, 1, 1, 1, 0, 1e-9, 1, 2],
        [-1, 1, 0.1, 3, 0, 0, 1, -0.5],
      ] as const;
      for (const [fx, fy, wx, wy, dx, dy, normalize, lambda] of parameterSets)
        checkFloats(
          n,
          f32Values(n, random),
          (out) =>
            kernels.consensus2(
              out,
              bPointer,
              xPointer,
              yPointer,
              n,
              fx,
              fy,
              wx,
              wy,
              dx,
              dy,
              normalize,
              lambda,
            ),
          (expected) => reference.consensus2(expected, b, x, y, n, fx, fy, wx, wy, dx, dy, normalize, lambda),
          other,
        );
    });
  });

  it('gives hand-computed values', () => {
    arena.reset();
    const words = Uint16Array.of(0x3f80, 0xc000, 0x8000, 0x4040);
    const src = arena.place(words, 2);
    const out = arena.place(new Float32Array(4).fill(1), 4);
    kernels.decodeBf16(out, src, 4);
    expect(Array.from(arena.floats(out, 4))).toEqual([1, -2, -0, 3]);
    kernels.scaleBf16(out, src, 4, 0.5);
    expect(Array.from(arena.floats(out, 4))).toEqual([0.5, -1, 0, 1.5]);
    expect(Object.is(arena.floats(out, 4)[2], 0)).toBe(true); // −0 · 0.5 + 0 = +0
    kernels.axpyBf16(out, src, 4, 2);
    expect(Array.from(arena.floats(out, 4))).toEqual([2.5, -5, 0, 7.5]);
    const base = arena.place(Float32Array.of(1, 1, 1, 1), 8);
    kernels.subBf16(out, src, base, 4);
    expect(Array.from(arena.floats(out, 4))).toEqual([0, -3, -1, 2]);

    // 1, tie to even (down), tie to odd (up), largest finite → inf, signalling NaN → quiet, −NaN, π, −2 (one
    // vector of eight), then a subnormal that rounds to +0 (the scalar tail)
    const bits = Uint32Array.of(
      0x3f800000,
      0x3f808000,
      0x3f818000,
      0x7f7fffff,
      0x7f800001,
      0xffc00001,
      0x40490fdb,
      0xc0000000,
      0x00000001,
    );
    const expectedWords = [0x3f80, 0x3f80, 0x3f82, 0x7f80, 0x7fc0, 0xffc0, 0x4049, 0xc000, 0x0000];
    const encoded = arena.place(new Uint16Array(9), 6);
    kernels.encodeBf16(encoded, arena.place(floatsOf(bits), 12), 9);
    expect(Array.from(arena.words(encoded, 9))).toEqual(expectedWords);
    // the same without NaNs (the vector loop's other branch)
    bits[4] = 0x3f800000;
    bits[5] = 0x3f800000;
    kernels.encodeBf16(encoded, arena.place(floatsOf(bits), 4), 9);
    expect(Array.from(arena.words(encoded, 9))).toEqual([
      ...expectedWords.slice(0, 4),
      0x3f80,
      0x3f80,
      ...expectedWords.slice(6),
    ]);

    const magnitudes = arena.place(
      floatsOf(Uint32Array.of(0x3f800000, 0xbf800001, 0x40000000, 0x3f800001)),
      4,
    );
    const high = arena.place(new Uint32Array(32768), 0);
    kernels.histHigh(high, magnitudes, 4);
    const highCounts = arena.counters(high, 32768);
    expect([highCounts[0x3f80], highCounts[0x4000], highCounts.reduce((a, c) => a + c, 0)]).toEqual([
      3, 1, 4,
    ]);
    const split = arena.place(new Uint32Array(4 * 32768), 0);
    kernels.histHighSplit(split, magnitudes, 4);
    const splitCounts = arena.counters(split, 4 * 32768);
    // one element in each sub-histogram: 0x3f80 in 0, 1, 3 and 0x4000 in 2
    expect([splitCounts[0x3f80], splitCounts[32768 + 0x3f80], splitCounts[65536 + 0x4000]]).toEqual([
      1, 1, 1,
    ]);
    expect(splitCounts[98304 + 0x3f80]).toBe(1);
    kernels.histHighFold(split);
    expect(differences(arena.counters(split, 32768), highCounts)).toEqual([]);
    const low = arena.place(new Uint32Array(65536), 0);
    kernels.histLow(low, magnitudes, 4, 0x3f80);
    const lowCounts = arena.counters(low, 65536);
    expect([lowCounts[0], lowCounts[1], lowCounts.reduce((a, c) => a + c, 0)]).toEqual([1, 2, 3]);

    const result = arena.place(new Int32Array(1), 0);
    const topValues = arena.place(Float32Array.of(3, -1, 1, -1, 0.5, -2, Number.NaN, 1), 4);
    kernels.countEqualMagnitude(topValues, 8, 1, result);
    expect(arena.counters(result, 1)[0]).toBe(4);
    kernels.applyTopK(topValues, 8, 1, 2, 0, 2, result);
    expect(Array.from(arena.floats(topValues, 8))).toEqual([6, -2, 2, -0, 0, -4, Number.NaN, 0]);
    expect(arena.counters(result, 1)[0]).toBe(4);

    // x = 1 and y = −3: the elected sign is −, only y agrees: 10 + (−3)/1 = 7; x = 2, y = 4 agree: 1 + (2·0.5 +
    // 4·0.25)/2 = 2; all zero: nothing agrees, divisor 0 → 1: b
    const consensusOut = arena.place(new Float32Array(3), 4);
    const [xs, ys, bs] = [
      arena.place(Float32Array.of(1, 2, 0), 8),
      arena.place(Float32Array.of(-3, 4, 0), 12),
      arena.place(Float32Array.of(10, 1, 5), 0),
    ];
    kernels.consensus2(consensusOut, bs, xs, ys, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    expect(Array.from(arena.floats(consensusOut, 3))).toEqual([7, 4, 5]);
    kernels.consensus2(consensusOut, bs, xs, ys, 3, 1, 1, 0.5, 0.25, 1, 1, 1, 1);
    expect(Array.from(arena.floats(consensusOut, 3))).toEqual([10 - 0.75, 2, 5]);
  });

  it('consensus2 matches the double-precision consensusKernel of task-arithmetic.ts to f32 rounding', () => {
    arena.reset();
    const random = seededRandom(7);
    const n = 4099;
    const [x, y, b] = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => (random() - 0.5) * 0.02));
    const [xs, ys, bs] = [arena.place(x!, 4), arena.place(y!, 8), arena.place(b!, 12)];
    for (const normalize of [true, false]) {
      const out = arena.place(new Float32Array(n), 0);
      kernels.consensus2(out, bs, xs, ys, n, 1, 0.5, 0.25, 0.75, 0.25, 0.75, +normalize, 1.5);
      const expected = new Float32Array(n);
      const [signs, weights, divisors] = [
        Float64Array.of(1, 0.5),
        Float64Array.of(0.25, 0.75),
        Float64Array.of(0.25, 0.75),
      ];
      consensusKernel(expected, b!, [x!, y!], signs, weights, divisors, false, normalize, 1.5);
      expect(arena.floats(out, n)).toBeAllClose(expected, { rtol: 1e-6, atol: 1e-9 });
    }
  });

  it('loads only on a shared memory', () => {
    expect(loadMergeKernels(new wasm!.Memory({ initial: 1, maximum: 2 }))).toBeUndefined();
    expect(
      loadMergeKernels(new wasm!.Memory({ initial: 1, maximum: 2, shared: true }))?.encodeBf16,
    ).toBeTypeOf('function');
  });

  it('runs in a worker thread on the same shared memory', async () => {
    const { Worker } = await import('node:worker_threads');
    arena.reset();
    const random = seededRandom(11);
    const n = 4103;
    const words = randomBf16Words(n, random);
    const src = arena.place(words, 2);
    const dst = arena.place(new Float32Array(n), 4);
    const encoded = arena.place(new Uint16Array(n), 6);
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { bytes, memory, src, dst, encoded, n } = workerData;
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      instance.exports.scaleBf16(dst, src, n, 0.375);
      instance.exports.encodeBf16(encoded, dst, n);
      parentPort.postMessage('done');
    `;
    const worker = new Worker(source, {
      eval: true,
      workerData: { bytes: mergeKernelModuleBytes(), memory, src, dst, encoded, n },
    });
    try {
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    } finally {
      await worker.terminate();
    }
    const expected = new Float32Array(n);
    reference.scaleBf16(expected, words, n, 0.375);
    expect(bitDifferences(arena.floats(dst, n), expected)).toEqual([]);
    const expectedWords = new Uint16Array(n);
    reference.encodeBf16(expectedWords, arena.floats(dst, n), n);
    expect(arena.words(encoded, n)).toEqual(expectedWords);
  });
});
