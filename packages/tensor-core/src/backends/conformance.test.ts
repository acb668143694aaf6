// One numeric suite for every backend that starts on this machine (describe.each), against float64
// references written here. Backends that cannot start are listed as skipped suites, with the reason.
import { afterAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16 } from '../half';
import type { BackendV1 } from '../kernels/contracts';
import { BackendRegistry } from '../kernels/registry';
import { implementsKernel, runKernel } from '../kernels/run-kernel';
import { Tensor } from '../tensor';
import { registerDefaultBackends } from './default-backends';

const registry = new BackendRegistry();
registerDefaultBackends(registry);
const { started, failures } = await registry.startAll();
// Release every native backend (Dawn device, onnxruntime sessions) before the test process exits.
afterAll(() => registry.reset());

function random(count: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const t = (values: ArrayLike<number>, shape: number[]) => Tensor.fromF32(Float32Array.from(values), shape);

function referenceMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeB: boolean,
) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]);
      out[i * n + j] = sum;
    }
  return out;
}

function referenceSoftmax(row: number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const sum = exps.reduce((s, v) => s + v, 0);
  return exps.map((v) => v / sum);
}

/** Standard normal CDF by Simpson integration of the density: independent of any erf approximation. */
function normalCdf(x: number): number {
  const steps = 2000;
  const h = x / steps;
  let sum = 0;
  for (let i = 0; i <= steps; i++) {
    const weight = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2;
    sum += weight * Math.exp(-((i * h) ** 2) / 2);
  }
  return 0.5 + ((h / 3) * sum) / Math.sqrt(2 * Math.PI);
}

/** Rotation of one head as complex multiplication: pairs chosen by layout, angle pos * theta^(-2i/d). */
function referenceRope(
  head: Float32Array,
  position: number,
  layout: 'llama' | 'neox',
  theta = 10000,
): Float64Array {
  const d = head.length;
  const out = Float64Array.from(head);
  for (let i = 0; i < d / 2; i++) {
    const [re, im] = layout === 'llama' ? [2 * i, 2 * i + 1] : [i, i + d / 2];
    const angle = position / theta ** ((2 * i) / d);
    const rotated = {
      re: head[re] * Math.cos(angle) - head[im] * Math.sin(angle),
      im: head[re] * Math.sin(angle) + head[im] * Math.cos(angle),
    };
    out[re] = rotated.re;
    out[im] = rotated.im;
  }
  return out;
}

function conformance(backend: () => BackendV1) {
  const run = <K extends Parameters<typeof runKernel>[1]>(
    ...args: [K, ...(Parameters<typeof runKernel<K>> extends [unknown, unknown, ...infer R] ? R : never)]
  ) => runKernel(backend(), ...args);

  describe('matmul', () => {
    it.each([
      [1, 1, 1, false],
      [3, 17, 33, false],
      [17, 33, 3, true],
      [2, 5, 1023, true],
      [33, 3, 17, false],
    ] as const)('m=%i n=%i k=%i transposeB=%s (odd sizes)', async (m, n, k, transposeB) => {
      const a = random(m * k, m + k);
      const b = random(n * k, n + 3);
      const out = await run(
        'matmul',
        { a: t(a, [m, k]), b: t(b, transposeB ? [n, k] : [k, n]) },
        { transposeB },
      );
      expect(out.shape).toEqual([m, n]);
      expect(out.data).toBeAllClose(referenceMatmul(a, b, m, n, k, transposeB), { rtol: 1e-4, atol: 1e-5 });
    });

    it('batched a [2, 3, 5] with a batched b and with one shared b', async () => {
      const a = random(30, 1);
      const b = random(40, 2);
      const batched = await run('matmul', { a: t(a, [2, 3, 5]), b: t(b, [2, 5, 4]) });
      const shared = await run('matmul', { a: t(a, [2, 3, 5]), b: t(b.subarray(0, 20), [5, 4]) });
      expect(batched.shape).toEqual([2, 3, 4]);
      for (let index = 0; index < 2; index++) {
        const aSlice = a.subarray(index * 15, index * 15 + 15);
        expect(batched.data.subarray(index * 12, index * 12 + 12)).toBeAllClose(
          referenceMatmul(aSlice, b.subarray(index * 20, index * 20 + 20), 3, 4, 5, false),
          { rtol: 1e-5, atol: 1e-6 },
        );
        expect(shared.data.subarray(index * 12, index * 12 + 12)).toBeAllClose(
          referenceMatmul(aSlice, b.subarray(0, 20), 3, 4, 5, false),
          { rtol: 1e-5, atol: 1e-6 },
        );
      }
    });

    it('propagates NaN and Infinity', async () => {
      const out = await run('matmul', {
        a: t([Number.NaN, 1, 1, 1], [2, 2]),
        b: t([1, 0, Number.POSITIVE_INFINITY, 1], [2, 2]),
      });
      expect(Number.isNaN(out.data[0])).toBe(true);
      expect(out.data[2]).toBe(Number.POSITIVE_INFINITY);
      expect(out.data[3]).toBe(1);
    });
  });

  describe('matvec', () => {
    it.each([
      [1, 1],
      [17, 33],
      [3, 1023],
      [1023, 3],
    ])('f32 weight %i x %i', async (rows, cols) => {
      const weight = random(rows * cols, rows * 7 + cols);
      const x = random(cols, 9);
      const out = await run('matvec', { weight: t(weight, [rows, cols]), x: t(x, [cols]) });
      expect(out.data).toBeAllClose(referenceMatmul(weight, x, rows, 1, cols, false), {
        rtol: 1e-4,
        atol: 1e-5,
      });
    });

    it('q8_0 weight read block by block', async () => {
      const rows = 3;
      const cols = 64;
      const bytes = new Uint8Array((rows * cols * 34) / 32);
      const dense = new Float64Array(rows * cols);
      for (let block = 0; block < (rows * cols) / 32; block++) {
        const bits = f32ToF16(0.01 * (block + 1));
        bytes[block * 34] = bits & 0xff;
        bytes[block * 34 + 1] = bits >> 8;
        for (let i = 0; i < 32; i++) {
          const q = ((block * 37 + i * 11) % 255) - 127;
          bytes[block * 34 + 2 + i] = q & 0xff;
          dense[block * 32 + i] = f16ToF32(bits) * q;
        }
      }
      const x = random(cols, 4);
      const expected = Array.from({ length: rows }, (_, r) =>
        dense.subarray(r * cols, r * cols + cols).reduce((s, w, c) => s + w * x[c], 0),
      );
      const out = await run('matvec', {
        weight: Tensor.fromBytes('q8_0', [rows, cols], bytes),
        x: t(x, [cols]),
      });
      expect(out.data).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-5 });
    });
  });

  describe('elementwise', () => {
    it('add and mul, same shape and broadcast over rows; scale', async () => {
      const a = random(3 * 17, 1);
      const b = random(17, 2);
      const full = random(3 * 17, 3);
      expect((await run('add', { a: t(a, [3, 17]), b: t(b, [17]) })).data).toBeAllClose(
        Array.from(a, (v, i) => v + b[i % 17]),
        { rtol: 1e-6 },
      );
      expect((await run('mul', { a: t(a, [3, 17]), b: t(full, [3, 17]) })).data).toBeAllClose(
        Array.from(a, (v, i) => v * full[i]),
        { rtol: 1e-6 },
      );
      expect((await run('scale', { x: t(a, [3, 17]) }, { factor: -0.5 })).data).toBeAllClose(
        Array.from(a, (v) => v * -0.5),
        { rtol: 1e-6 },
      );
    });

    it('silu stays finite at +-1000 and matches x * sigmoid(x)', async () => {
      const x = [-1000, -20, -1, 0, 0.5, 3, 20, 1000, Number.NaN];
      const out = (await run('silu', { x: t(x, [x.length]) })).data;
      expect(out).toBeAllClose(
        x.map((v) => v / (1 + Math.exp(-v))),
        { rtol: 1e-5, atol: 1e-7 },
      );
    });

    it('gelu: tanh approximation and exact (against an integrated normal CDF)', async () => {
      const x = [-10, -3, -1, -0.1, 0, 0.7, 2, 9];
      const tanh = (await run('gelu', { x: t(x, [8]) })).data;
      expect(tanh).toBeAllClose(
        x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
        { rtol: 1e-5, atol: 1e-6 },
      );
      const exact = (await run('gelu', { x: t(x, [8]) }, { approximate: 'none' })).data;
      expect(exact).toBeAllClose(
        x.map((v) => v * normalCdf(v)),
        { rtol: 1e-5, atol: 1e-6 },
      );
    });
  });

  describe('softmax', () => {
    it('overflow: logits of 1e30 and -1e30 give [1, 0, 0], no NaN', async () => {
      const out = (await run('softmax', { x: t([1e30, 0, -1e30, 88, 89, 90], [2, 3]) })).data;
      expect(Array.from(out.subarray(0, 3))).toEqual([1, 0, 0]);
      expect(out.subarray(3)).toBeAllClose(referenceSoftmax([88, 89, 90]), { rtol: 1e-5 });
    });

    it('underflow: exp(-1000) flushes to an exact 0; -Infinity masks', async () => {
      const out = (await run('softmax', { x: t([0, -1000, 1e-30, 5, Number.NEGATIVE_INFINITY, 5], [2, 3]) }))
        .data;
      expect(out.subarray(0, 3)).toBeAllClose(referenceSoftmax([0, -1000, 1e-30]), { rtol: 1e-6 });
      expect(out[1]).toBe(0);
      expect(Array.from(out.subarray(3))).toEqual([0.5, 0, 0.5]);
    });

    it('odd row lengths 1, 3, 17, 33, 1023 sum to 1', async () => {
      for (const size of [1, 3, 17, 33, 1023]) {
        const x = random(size * 2, size, 30);
        const out = (await run('softmax', { x: t(x, [2, size]) })).data;
        const expected = [
          ...referenceSoftmax(Array.from(x.subarray(0, size))),
          ...referenceSoftmax(Array.from(x.subarray(size))),
        ];
        expect(out).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-7 });
      }
    });

    it('NaN in a row makes that row NaN and leaves other rows alone', async () => {
      const out = (await run('softmax', { x: t([1, Number.NaN, 2, 0, 0, 0], [2, 3]) })).data;
      expect(Array.from(out.subarray(0, 3)).every(Number.isNaN)).toBe(true);
      expect(out.subarray(3)).toBeAllClose([1 / 3, 1 / 3, 1 / 3], { rtol: 1e-6 });
    });
  });

  describe('normalization', () => {
    it('rmsnorm: odd sizes and activations of 1e20 (squares overflow f32) stay exact', async () => {
      for (const size of [1, 3, 17, 1023]) {
        const x = random(2 * size, size, size === 17 ? 1e20 : 3);
        const weight = random(size, 5);
        const out = (
          await run('rmsnorm', { x: t(x, [2, size]), weight: t(weight, [size]) }, { epsilon: 1e-6 })
        ).data;
        const expected = Array.from(x, (v, i) => {
          const row = Math.floor(i / size);
          const ms =
            Array.from(x.subarray(row * size, row * size + size)).reduce((s, u) => s + u * u, 0) / size;
          return (v / Math.sqrt(ms + 1e-6)) * weight[i % size];
        });
        expect(out).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-6 });
      }
    });

    it('layernorm with and without bias, values offset by 1e4', async () => {
      const size = 33;
      const x = random(3 * size, 8).map((v) => v + 1e4);
      const weight = random(size, 6);
      const bias = random(size, 7);
      const expected = (withBias: boolean) =>
        Array.from(x, (v, i) => {
          const row = Array.from(x.subarray(Math.floor(i / size) * size, Math.floor(i / size) * size + size));
          const mean = row.reduce((s, u) => s + u, 0) / size;
          const variance = row.reduce((s, u) => s + (u - mean) ** 2, 0) / size;
          return (
            ((v - mean) / Math.sqrt(variance + 1e-5)) * weight[i % size] + (withBias ? bias[i % size] : 0)
          );
        });
      const xt = t(x, [3, size]);
      expect(
        (await run('layernorm', { x: xt, weight: t(weight, [size]), bias: t(bias, [size]) })).data,
      ).toBeAllClose(expected(true), { rtol: 1e-3, atol: 2e-3 });
      expect((await run('layernorm', { x: xt, weight: t(weight, [size]) })).data).toBeAllClose(
        expected(false),
        { rtol: 1e-3, atol: 2e-3 },
      );
    });
  });

  describe('rope', () => {
    it.each(['llama', 'neox'] as const)(
      '%s layout: every head of every token rotates by its position',
      async (layout) => {
        const [tokens, heads, headDim] = [3, 2, 8];
        const x = random(tokens * heads * headDim, 12);
        const out = (await run('rope', { x: t(x, [tokens, heads, headDim]) }, { layout, startPosition: 5 }))
          .data;
        const expected: number[] = [];
        for (let token = 0; token < tokens; token++)
          for (let head = 0; head < heads; head++) {
            const offset = (token * heads + head) * headDim;
            expected.push(...referenceRope(x.subarray(offset, offset + headDim), 5 + token, layout));
          }
        expect(out).toBeAllClose(expected, { rtol: 1e-5, atol: 1e-6 });
      },
    );

    it.each(['llama', 'neox'] as const)(
      '%s layout with partial rotary (rotaryDim 4 of 10): the rest is copied',
      async (layout) => {
        const x = random(2 * 10, 21);
        const out = (
          await run('rope', { x: t(x, [2, 10]) }, { layout, startPosition: 3, rotaryDim: 4, theta: 500 })
        ).data;
        for (let head = 0; head < 2; head++) {
          const rotated = referenceRope(x.subarray(head * 10, head * 10 + 4), 3, layout, 500);
          expect(out.subarray(head * 10, head * 10 + 4)).toBeAllClose(rotated, { rtol: 1e-5, atol: 1e-6 });
          expect(Array.from(out.subarray(head * 10 + 4, head * 10 + 10))).toEqual(
            Array.from(x.subarray(head * 10 + 4, head * 10 + 10)),
          );
        }
      },
    );

    it('neox equals llama after moving interleaved pairs to halves', async () => {
      const headDim = 16;
      const interleaved = random(headDim, 3);
      const halves = new Float32Array(headDim);
      for (let i = 0; i < headDim / 2; i++) {
        halves[i] = interleaved[2 * i];
        halves[i + headDim / 2] = interleaved[2 * i + 1];
      }
      const llama = (
        await run('rope', { x: t(interleaved, [1, headDim]) }, { layout: 'llama', startPosition: 7 })
      ).data;
      const neox = (await run('rope', { x: t(halves, [1, headDim]) }, { layout: 'neox', startPosition: 7 }))
        .data;
      for (let i = 0; i < headDim / 2; i++) {
        expect(neox[i]).toBeCloseTo(llama[2 * i], 6);
        expect(neox[i + headDim / 2]).toBeCloseTo(llama[2 * i + 1], 6);
      }
    });
  });

  describe('gather, selection, similarity, reductions', () => {
    it('embedding gathers f32 and f16 rows and rejects ids outside the table', async () => {
      const table = random(5 * 3, 2);
      const out = (await run('embedding', { table: t(table, [5, 3]), ids: [4, 0, 4] })).data;
      expect(Array.from(out)).toEqual([
        ...table.subarray(12, 15),
        ...table.subarray(0, 3),
        ...table.subarray(12, 15),
      ]);
      const half = new Uint8Array(5 * 3 * 2);
      const view = new DataView(half.buffer);
      for (let i = 0; i < table.length; i++) view.setUint16(i * 2, f32ToF16(table[i]), true);
      const fromHalf = (await run('embedding', { table: Tensor.fromBytes('f16', [5, 3], half), ids: [1] }))
        .data;
      expect(fromHalf).toBeAllClose(Array.from(table.subarray(3, 6)), { rtol: 1e-3 });
      await expect(run('embedding', { table: t(table, [5, 3]), ids: [5] })).rejects.toThrow(/outside/);
    });

    it('argmax per row: first of ties, odd lengths', async () => {
      const x = [1, 3, 3, 0, -2, -1, -1, -5];
      expect(Array.from(await run('argmax', { x: t(x, [2, 4]) }))).toEqual([1, 1]);
      const long = random(1023, 5);
      long[777] = 10;
      expect(Array.from(await run('argmax', { x: t(long, [1, 1023]) }))).toEqual([777]);
    });

    it('topk: k largest per row, descending, ties to the lower index', async () => {
      const x = [5, 1, 5, 3, 9, 0, 2, 2, 2, 1];
      const { values, indices } = await run('topk', { x: t(x, [2, 5]) }, { k: 3 });
      expect(Array.from(values.data)).toEqual([9, 5, 5, 2, 2, 2]);
      expect(Array.from(indices)).toEqual([4, 0, 2, 1, 2, 3]);
    });

    it('cosine similarity per row, zero vectors give 0, large values do not overflow', async () => {
      const a = [1, 0, 0, 3e20, 4e20, 0, 0, 0, 0];
      const b = [0, 1, 0, 6e20, 8e20, 0, 1, 2, 3];
      expect((await run('cosineSimilarity', { a: t(a, [3, 3]), b: t(b, [3, 3]) })).data).toBeAllClose(
        [0, 1, 0],
        { atol: 1e-6 },
      );
    });

    it.each(['sum', 'mean', 'max', 'min'] as const)(
      'reduce %s over rows of 1, 17 and 1023',
      async (operation) => {
        for (const size of [1, 17, 1023]) {
          const x = random(2 * size, size);
          const rows = [Array.from(x.subarray(0, size)), Array.from(x.subarray(size))];
          const expected = rows.map((row) =>
            operation === 'sum'
              ? row.reduce((s, v) => s + v, 0)
              : operation === 'mean'
                ? row.reduce((s, v) => s + v, 0) / size
                : operation === 'max'
                  ? Math.max(...row)
                  : Math.min(...row),
          );
          expect((await run('reduce', { x: t(x, [2, size]) }, { operation })).data).toBeAllClose(expected, {
            rtol: 1e-5,
            atol: 1e-6,
          });
        }
      },
    );
  });
}

describe.each(started.map((backend) => ({ name: backend.name, backend })))('backend $name', ({ backend }) => {
  it('reports which kernels it runs itself (the rest fall back to js)', () => {
    const native = ['matmul', 'matvec', 'softmax'].filter((kernel) =>
      implementsKernel(backend, kernel as 'matmul'),
    );
    expect(native.length).toBeGreaterThan(0);
  });
  conformance(() => backend);
});

for (const failure of failures) {
  describe.skip(`backend ${failure.name} skipped: ${failure.message}`, () =>
    conformance(() => {
      throw new Error(failure.message);
    }));
}

describe('registry', () => {
  it('starts js and ort here; a machine without a GPU reports webgpu as "no adapter" or not loadable', () => {
    expect(started.map((backend) => backend.name)).toContain('js');
    for (const failure of failures) expect(failure.message.length).toBeGreaterThan(0);
  });

  it('starts nothing until asked, then starts each backend once', async () => {
    const local = new BackendRegistry();
    let starts = 0;
    const js = started.find((backend) => backend.name === 'js')!;
    local.register('counted', 1, () => {
      starts++;
      return js;
    });
    expect(starts).toBe(0);
    await local.get();
    await local.get('counted');
    expect(starts).toBe(1);
  });

  it('rejects bad kernel attributes with a ValidationError naming the field', async () => {
    const js = started.find((backend) => backend.name === 'js')!;
    const x = Tensor.fromF32(new Float32Array(4), [4]);
    await expect(runKernel(js, 'topk', { x }, { k: 0 })).rejects.toThrow(/topk\.attributes\.k/);
    await expect(
      runKernel(js, 'rope', { x: x.reshape([1, 4]) }, { layout: 'gptj' as 'llama' }),
    ).rejects.toThrow(/rope\.attributes\.layout/);
  });

  it('getBackend picks by priority and one error lists every failure', async () => {
    const local = new BackendRegistry();
    local.register('first', 3, () => {
      throw new Error('first is broken');
    });
    local.register('second', 2, async () => {
      throw new Error('second has no device');
    });
    await expect(local.get()).rejects.toThrow(/first: first is broken\n {2}second: second has no device/);
    local.register('js', 1, () => started.find((backend) => backend.name === 'js')!);
    expect((await local.get()).name).toBe('js');
    await expect(local.get('missing')).rejects.toThrow(/not registered/);
  });
});
