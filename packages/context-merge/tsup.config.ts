import { meldTsup } from '@meld/tsup-config';

export default meldTsup({ entry: ['src/index.ts'] });
