import { meldTsup } from '@meld/tsup-config';

export default meldTsup({
  entry: { index: 'src/index.ts', main: 'src/main.ts' },
  esbuildOptions(options, context) {
    if (context.format === 'esm') options.banner = { js: '#!/usr/bin/env node' };
  },
});
