// Shared vitest preset (plain JS so that vitest's config loader can import it from node_modules).
// Workspace packages resolve to their TypeScript sources, so tests never need a prior build;
// `toBeAllClose` is registered for every test file.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function workspaceAliases() {
  /** @type {Record<string, string>} */
  const aliases = {};
  for (const group of ['packages', 'apps']) {
    const dir = join(repoRoot, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const entry = join(dir, name, 'src', 'index.ts');
      if (existsSync(entry)) aliases[`@meld/${name}`] = entry;
    }
  }
  return aliases;
}

/** @param {import('vitest/config').ViteUserConfig['test']} [overrides] */
export function meldVitest(overrides = {}) {
  return defineConfig({
    resolve: { alias: workspaceAliases() },
    test: {
      setupFiles: [join(repoRoot, 'tooling', 'test-utils', 'src', 'setup.ts')],
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
      ...overrides,
    },
  });
}
