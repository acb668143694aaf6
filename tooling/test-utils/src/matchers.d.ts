// Types for the `toBeAllClose` matcher registered by ./setup.ts. Every package's tsconfig includes this
// file, so tests type-check without each package redeclaring it.
import type { AllCloseOptions } from './all-close';

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: must match vitest's own declaration of Matchers<T = any>
  interface Matchers<T = any> {
    toBeAllClose(expected: ArrayLike<number>, options?: AllCloseOptions): T;
  }
}
