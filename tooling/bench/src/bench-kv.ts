// pnpm bench:kv — KV-cache policies on stories260K (quality at 50% / 35% budgets, prompt compression
// then 64 teacher-forced tokens) and compression overhead on a synthetic ~110M model at long context.
//   node dist/bench-kv.js [--samples 200] [--only quality|overhead] [--out DIR]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sharedFile } from '@meld/test-utils';
import { benchArgs } from './bench-args';
import { runKVOverhead } from './kv-overhead';
import { runKVQuality } from './kv-quality';
import { writeAtomic } from './kv-write';

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    samples: { type: 'string', default: '200' },
    only: { type: 'string' },
    out: { type: 'string' },
    context: { type: 'string', default: '2048,4096' },
    steps: { type: 'string', default: '32' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'pnpm bench:kv [-- options]',
      '  --samples N        prompts for the quality run (default 200)',
      '  --only quality|overhead   run one part',
      '  --context 2048,4096 contexts for the overhead run',
      '  --steps N          decode steps timed per configuration in the overhead run (default 32)',
      '  --out DIR          where kv-quality.{md,json} and kv-overhead.{md,json} go (default packages/kv-cache/benchmarks)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const outDir =
  values.out ?? fileURLToPath(new URL('../../../packages/kv-cache/benchmarks/', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

if (values.only !== 'overhead') {
  const text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8');
  const result = await runKVQuality({ samples: Number(values.samples), text, log });
  writeAtomic(join(outDir, 'kv-quality.json'), `${JSON.stringify(result.json, null, 2)}\n`);
  writeAtomic(join(outDir, 'kv-quality.md'), result.markdown);
  process.stdout.write(`${result.markdown}\n`);
}
if (values.only !== 'quality') {
  const contexts = (values.context ?? '2048,4096').split(',').map(Number);
  const result = await runKVOverhead({ contexts, steps: Number(values.steps), log });
  writeAtomic(join(outDir, 'kv-overhead.json'), `${JSON.stringify(result.json, null, 2)}\n`);
  writeAtomic(join(outDir, 'kv-overhead.md'), result.markdown);
  process.stdout.write(`${result.markdown}\n`);
}
