import type { ViteUserConfig } from 'vitest/config';
export declare function meldVitest(overrides?: ViteUserConfig['test']): ViteUserConfig;
