// Typed merge errors; each names the tensor and the model(s) involved.
import { MeldError } from '@meld/tensor-core';

/** The input models are not the same architecture (config.json `architectures` / layer count). */
export class ArchitectureMismatchError extends MeldError {
  readonly models: readonly string[];
  constructor(message: string, models: readonly string[]) {
    super('architecture-mismatch', message);
    this.name = 'ArchitectureMismatchError';
    this.models = models;
  }
}

/** A tensor the plan needs is absent from a model. */
export class MissingTensorError extends MeldError {
  readonly tensor: string;
  readonly model: string;
  constructor(tensor: string, model: string, hint = '') {
    super('missing-tensor', `tensor '${tensor}' is missing from model '${model}'${hint}`);
    this.name = 'MissingTensorError';
    this.tensor = tensor;
    this.model = model;
  }
}

/** Input tensors that no rule of the config covers (set `unmatched: copy_base | drop` to allow). */
export class UnmatchedTensorError extends MeldError {
  readonly tensors: readonly { tensor: string; models: readonly string[] }[];
  constructor(tensors: readonly { tensor: string; models: readonly string[] }[]) {
    const listed = tensors
      .slice(0, 10)
      .map((t) => `'${t.tensor}' (in ${t.models.join(', ')})`)
      .join(', ');
    super(
      'unmatched-tensor',
      `${tensors.length} input tensor(s) have no merge rule: ${listed}${tensors.length > 10 ? ', ...' : ''}; ` +
        'set `unmatched: copy_base` or `unmatched: drop` in the config to say how to treat them',
    );
    this.name = 'UnmatchedTensorError';
    this.tensors = tensors;
  }
}

/** Tensors with the same name disagree in shape across models. */
export class TensorShapeMismatchError extends MeldError {
  readonly tensor: string;
  readonly model: string;
  readonly expected: readonly number[];
  readonly actual: readonly number[];
  constructor(
    tensor: string,
    model: string,
    expected: readonly number[],
    actual: readonly number[],
    reference: string,
  ) {
    super(
      'shape-mismatch',
      `tensor '${tensor}': model '${model}' has shape [${actual.join(', ')}], '${reference}' has [${expected.join(', ')}]`,
    );
    this.name = 'TensorShapeMismatchError';
    this.tensor = tensor;
    this.model = model;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A tensor's dtype cannot be merged (integers, quantized blocks) or disagrees across models. */
export class TensorDTypeError extends MeldError {
  readonly tensor: string;
  readonly model: string;
  readonly dtype: string;
  constructor(tensor: string, model: string, dtype: string, message: string) {
    super('dtype', `tensor '${tensor}' in model '${model}' (${dtype}): ${message}`);
    this.name = 'TensorDTypeError';
    this.tensor = tensor;
    this.model = model;
    this.dtype = dtype;
  }
}
