// The WGSL kernels through Dawn's null backend (the `webgpu` package with ['backend=null']): Tint compiles
// every shader, pipelines and bind groups are created and every dispatch is validated, exactly as on a GPU,
// but nothing is computed, so no values are checked here. Numbers are checked by conformance.test.ts on
// machines with a GPU adapter. Skips when the optional `webgpu` package does not load.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { runKernel } from '../../kernels/run-kernel';
import { Tensor } from '../../tensor';
import { createWebGpuBackend, type WebGpuBackend } from './webgpu-backend';

let backend: WebGpuBackend | undefined;
let reason = '';
try {
  backend = await createWebGpuBackend({ dawnFlags: ['backend=null'] });
} catch (error) {
  reason = error instanceof Error ? error.message : String(error);
}

const t = (count: number, shape: number[]) =>
  Tensor.fromF32(
    Float32Array.from({ length: count }, (_, i) => Math.sin(i)),
    shape,
  );

describe.skipIf(backend === undefined)(
  `webgpu WGSL kernels validate on Dawn's null device${reason ? ` (${reason})` : ''}`,
  () => {
    const gpu = () => backend!;
    // Dawn tears down its threads only after the device is destroyed and reported lost; a process that
    // exits (or collects Dawn's instance) with a live device can abort natively.
    afterAll(async () => {
      await backend?.dispose?.();
      backend = undefined;
    });

    it("the device outlives garbage collections: the backend keeps Dawn's instance alive", async () => {
      // Collecting the GPU object that made the device used to crash the whole test process
      // (futex error / SIGSEGV), at whatever moment the collector ran.
      setFlagsFromString('--expose-gc');
      const collect: () => void = runInNewContext('gc');
      for (let i = 0; i < 3; i++) {
        collect();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await expect(runKernel(gpu(), 'add', { a: t(8, [8]), b: t(8, [8]) })).resolves.toBeDefined();
    });

    it('matmul: odd sizes, batched, transposed B', async () => {
      await expect(
        runKernel(gpu(), 'matmul', { a: t(3 * 33, [3, 33]), b: t(33 * 17, [33, 17]) }),
      ).resolves.toBeDefined();
      await expect(
        runKernel(
          gpu(),
          'matmul',
          { a: t(2 * 5 * 7, [2, 5, 7]), b: t(2 * 9 * 7, [2, 9, 7]) },
          { transposeB: true },
        ),
      ).resolves.toBeDefined();
    });

    it('matvec, elementwise (add, mul, scale, silu, gelu), softmax, rmsnorm', async () => {
      const x = t(2 * 1023, [2, 1023]);
      await expect(
        runKernel(gpu(), 'matvec', { weight: t(17 * 33, [17, 33]), x: t(33, [33]) }),
      ).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'add', { a: x, b: t(1023, [1023]) })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'mul', { a: x, b: x })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'scale', { x }, { factor: 0.5 })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'silu', { x })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'gelu', { x })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'softmax', { x })).resolves.toBeDefined();
      await expect(runKernel(gpu(), 'rmsnorm', { x, weight: t(1023, [1023]) })).resolves.toBeDefined();
    });

    it('a dispatch that fails validation becomes a WebGpuError naming the problem', async () => {
      // A matmul whose batch (the z workgroup count) exceeds the device limit of 65535.
      const a = Tensor.fromF32(new Float32Array(70000), [70000, 1, 1]);
      const b = Tensor.fromF32(new Float32Array(70000), [70000, 1, 1]);
      await expect(runKernel(gpu(), 'matmul', { a, b })).rejects.toThrow(/webgpu:/);
    });
  },
);
