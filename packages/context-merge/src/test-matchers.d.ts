// Types for the toBeAllClose matcher that @meld/test-utils registers in its vitest setup file.
import type { AllCloseOptions } from '@meld/test-utils';

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: must match vitest's own declaration of Matchers<T = any>
  interface Matchers<T = any> {
    toBeAllClose(expected: ArrayLike<number>, options?: AllCloseOptions): T;
  }
}
