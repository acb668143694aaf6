// Shared tsup preset: ESM + .d.ts + sourcemaps for every meld package.
// Usage (packages/x/tsup.config.ts): export default meldTsup({ entry: ['src/index.ts'] });
import { defineConfig } from 'tsup';

export function meldTsup(options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    ...options,
  });
}
