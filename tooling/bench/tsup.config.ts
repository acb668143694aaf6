import { meldTsup } from '@meld/tsup-config';

// Every src/bench-*.ts is a runnable benchmark script (pnpm bench:<area> from the root).
export default meldTsup({ entry: ['src/bench-*.ts'], dts: false });
