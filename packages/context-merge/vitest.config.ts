import { meldVitest } from '@meld/test-utils/vitest';

export default meldVitest();
