// Vitest setup file: registers the `toBeAllClose` matcher.
import { expect } from 'vitest';
import { type AllCloseOptions, allClose } from './all-close';

expect.extend({
  toBeAllClose(received: ArrayLike<number>, expected: ArrayLike<number>, options: AllCloseOptions = {}) {
    const result = allClose(received, expected, options);
    return {
      pass: result.pass,
      message: () =>
        result.index < 0 && !result.pass
          ? `lengths differ: received ${result.actual}, expected ${result.expected}`
          : `${this.isNot ? 'expected arrays not to be close' : 'arrays differ'} at index ${result.index}: ` +
            `received ${result.actual}, expected ${result.expected} (max abs error ${result.maxAbsError}, ` +
            `rtol ${options.rtol ?? 1e-5}, atol ${options.atol ?? 1e-8})`,
    };
  },
});
