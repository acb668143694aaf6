import type { Options } from 'tsup';
export declare function meldTsup(options?: Options): ReturnType<typeof import('tsup').defineConfig>;
