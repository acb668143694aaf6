// Runs one kernel on a backend: attributes are parsed with the kernel's zod schema (a ValidationError names
// the bad field), then the backend's implementation runs, or the js backend's when the backend has none.
import { jsKernels } from '../backends/js/js-backend';
import { ValidationError } from '../errors';
import {
  type BackendV1,
  type KernelAttributes,
  type KernelAttributesInput,
  type KernelInputs,
  type KernelName,
  type KernelOutputs,
  kernelAttributeSchemas,
} from './contracts';

export function parseKernelAttributes<K extends KernelName>(
  kernel: K,
  attributes: KernelAttributesInput<K> | undefined,
): KernelAttributes<K> {
  const result = kernelAttributeSchemas[kernel].safeParse(attributes ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = [kernel, 'attributes', ...(issue?.path ?? []).map(String)].join('.');
    throw new ValidationError(path, issue?.message ?? 'invalid attributes');
  }
  return result.data as KernelAttributes<K>;
}

/** Runs `kernel` on `backend` (falling back to js for kernels the backend does not implement). */
export async function runKernel<K extends KernelName>(
  backend: BackendV1,
  kernel: K,
  inputs: KernelInputs[K],
  attributes?: KernelAttributesInput<K>,
): Promise<KernelOutputs[K]> {
  const parsed = parseKernelAttributes(kernel, attributes);
  const implementation = backend.kernels[kernel] ?? jsKernels[kernel];
  return implementation(inputs, parsed);
}

/** True when `backend` runs `kernel` itself rather than falling back to js. */
export function implementsKernel(backend: BackendV1, kernel: KernelName): boolean {
  return backend.kernels[kernel] !== undefined;
}
