// A small reverse-mode autodiff engine over typed arrays. Each op computes its output eagerly and,
// when any input needs a gradient, records a closure on the tape that adds the op's vector-Jacobian
// product into its inputs' gradients. `backward` runs the closures newest-first.
//
// Buffer ownership: a Variable owns `data` and `grad`; ops never write into an input's `data`.
// Gradients are allocated lazily (on first accumulation) and live until `zeroGrad`.
// The engine is generic over Float32Array (training) and Float64Array (gradient checks in tests).

import { ShapeMismatchError } from '@meld/tensor-core';

export type FloatArray = Float32Array | Float64Array;

export function allocLike(like: FloatArray, length: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(length) : new Float32Array(length);
}

export class Variable {
  data: FloatArray;
  readonly shape: readonly number[];
  grad: FloatArray | undefined;
  readonly requiresGrad: boolean;
  /** Optional name (for parameters), e.g. 'model.layers.0.self_attn.q_proj.lora_A'. */
  readonly name: string | undefined;

  constructor(data: FloatArray, shape: readonly number[], requiresGrad = false, name?: string) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new ShapeMismatchError(name ?? 'variable', [size], [data.length]);
    this.data = data;
    this.shape = shape;
    this.requiresGrad = requiresGrad;
    this.name = name;
  }

  get size(): number {
    return this.data.length;
  }

  /** The gradient buffer, allocated on first use. */
  gradBuffer(): FloatArray {
    if (!this.grad) this.grad = allocLike(this.data, this.data.length);
    return this.grad;
  }

  zeroGrad(): void {
    if (this.grad) this.grad.fill(0);
  }
}

export class Tape {
  private readonly steps: Array<() => void> = [];
  /** False while evaluating without gradients (e.g. perplexity, generation). */
  readonly enabled: boolean;

  constructor(enabled = true) {
    this.enabled = enabled;
  }

  /** Records a backward closure when recording is on and any of `inputs` needs a gradient. */
  needs(...inputs: Variable[]): boolean {
    return this.enabled && inputs.some((v) => v.requiresGrad);
  }

  record(step: () => void): void {
    this.steps.push(step);
  }

  get length(): number {
    return this.steps.length;
  }

  /** Seeds d(loss)/d(loss) = `seed` and runs every recorded step newest-first, then clears the tape. */
  backward(loss: Variable, seed = 1): void {
    if (loss.size !== 1) throw new ShapeMismatchError('backward: loss', [1], [loss.size]);
    loss.gradBuffer()[0] += seed;
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
    this.steps.length = 0;
  }
}

export function assertShape(what: string, variable: Variable, expected: readonly number[]): void {
  const actual = variable.shape;
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new ShapeMismatchError(what, expected, actual);
  }
}
