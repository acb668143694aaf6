import { meldTsup } from '@meld/tsup-config';

export default meldTsup({
  entry: { index: 'src/index.ts', meld: 'src/meld.ts' },
  banner: ({ format }) => (format === 'esm' ? { js: '' } : {}),
  esbuildOptions(options, context) {
    if (context.format === 'esm') options.banner = { js: '#!/usr/bin/env node' };
  },
});
