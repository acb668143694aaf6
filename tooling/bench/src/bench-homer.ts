// pnpm bench:homer — HOMER (@meld/context-merge) on stories260K (trained on 512 tokens):
//  1. perplexity of the final 64 tokens of 1K-8K-token TinyStories inputs and prefill time, for HOMER
//     (calibrated and raw) vs the last 512 tokens, plain attention past 512 and RoPE position interpolation;
//  2. a recall probe (a name stated only in the first chunk, its log-probability at the end);
//  3. peak memory (engine accounting and process RSS, one child process per point) for 1K-32K tokens,
//     on stories260K and on a deeper synthetic model, with fitted growth and an SVG curve.
// Writes packages/context-merge/benchmarks/homer.{md,json}, homer-memory.svg, the calibration JSON,
// and the results section of packages/context-merge/README.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { calibrateHomer, homerPrefill, saveHomerCalibration } from '@meld/context-merge';
import { loadModel } from '@meld/runtime';
import { sharedFile } from '@meld/test-utils';
import { benchArgs } from './bench-args';
import { fitGrowth, type MemoryModel, type MemoryPoint, measureInChild, memoryChild } from './homer-memory';
import {
  inputOfLength,
  METHODS,
  PROBE_NAMES,
  type QualityRow,
  type RecallRow,
  recallInput,
  scoreAll,
  splitTail,
  storiesWithout,
} from './homer-quality';
import { type HomerBenchJson, renderHomerReport, renderMemoryCharts } from './homer-report';
import { writeAtomic } from './kv-write';

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    lengths: { type: 'string', default: '1024,2048,4096,8192' },
    samples: { type: 'string', default: '1' },
    'plain-max': { type: 'string', default: '8192' },
    'recall-plain-max': { type: 'string', default: '2048' },
    memory: { type: 'string', default: '1024,2048,4096,8192,16384,32768' },
    'deep-memory': { type: 'string', default: '1024,2048,4096,8192' },
    'plain-memory': { type: 'string', default: '1024,2048,4096' },
    only: { type: 'string' },
    out: { type: 'string' },
    'memory-child': { type: 'string' },
    'memory-model': { type: 'string', default: 'stories260K' },
    'memory-method': { type: 'string', default: 'homer' },
    render: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'pnpm bench:homer [-- options]',
      '  --lengths 1024,2048,4096,8192   input lengths (tokens) for perplexity and recall',
      '  --samples N            inputs per length (default 1)',
      '  --plain-max N          longest input scored with plain attention / position interpolation (quadratic; default 8192)',
      '  --recall-plain-max N   the same for the recall probe (default 2048)',
      '  --memory LIST          input lengths for the stories260K memory curve (default 1K..32K)',
      '  --deep-memory LIST     input lengths for the deep synthetic model (default 1K..8K)',
      '  --plain-memory LIST    input lengths measured with plain attention (default 1K..4K)',
      '  --only quality|memory|timing  run one part (timing: HOMER vs plain prefill only)',
      '  --render FILE          only re-render the markdown and README section from a homer*.json',
      '  --out DIR              output folder (default packages/context-merge/benchmarks)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
if (values['memory-child']) {
  await memoryChild(
    values['memory-model'] as MemoryModel,
    values['memory-method'] as 'homer' | 'plain',
    Number(values['memory-child']),
  );
  process.exit(0);
}

const list = (value: string | undefined) => (value ? value.split(',').map(Number) : []);
/** The repository root: the first folder above this script (or the working directory) with pnpm-workspace.yaml. */
function repositoryRoot(): string {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let folder = start;
    while (folder !== dirname(folder)) {
      if (existsSync(join(folder, 'pnpm-workspace.yaml'))) return folder;
      folder = dirname(folder);
    }
  }
  throw new Error('run bench:homer inside the repository');
}
const packageDir = join(repositoryRoot(), 'packages', 'context-merge');
const outDir = values.out ?? join(packageDir, 'benchmarks');
const log = (line: string) => process.stderr.write(`${line}\n`);
const script = fileURLToPath(import.meta.url);
const mib = (bytes: number) => bytes / 2 ** 20;
const json: HomerBenchJson = values.render
  ? (JSON.parse(readFileSync(values.render, 'utf8')) as HomerBenchJson)
  : { date: new Date().toISOString(), node: process.version };

if (!values.render && values.only !== 'memory' && values.only !== 'timing') {
  const model = await loadModel(sharedFile('models/stories260K/stories260K.bin'));
  const text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8');
  // Calibration text: the last 100K characters of the file (the inputs come from its start).
  const started = performance.now();
  const calibration = calibrateHomer(model, text.slice(-100_000), { maxWindows: 32 });
  mkdirSync(outDir, { recursive: true });
  const calibrationPath = join(outDir, 'stories260K.bin.homer-calibration.json');
  saveHomerCalibration(calibrationPath, calibration);
  log(
    `calibration: ${calibration.windows} windows in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const quality: QualityRow[] = [];
  for (const length of list(values.lengths)) {
    for (let sample = 0; sample < Number(values.samples); sample++) {
      const tokens = inputOfLength(model, text, sample * 200_000, length);
      const runPlain = length <= Number(values['plain-max']);
      const { nll, ms } = scoreAll(model, tokens, 64, calibration, runPlain);
      quality.push({ length, sample, nll, ms });
      log(`quality ${length} #${sample}: ${JSON.stringify(nll)} ms ${JSON.stringify(ms)}`);
    }
  }
  const stories = storiesWithout(text.slice(0, 400_000), PROBE_NAMES);
  const recall: RecallRow[] = [];
  for (const length of list(values.lengths)) {
    for (const name of PROBE_NAMES) {
      const { tokens, scored } = recallInput(model, stories, name, length);
      const { logProbs } = scoreAll(
        model,
        tokens,
        scored,
        calibration,
        length <= Number(values['recall-plain-max']),
      );
      const logProb: RecallRow['logProb'] = {};
      for (const method of METHODS) {
        const values = logProbs[method];
        if (values) logProb[method] = Array.from(values).reduce((a, b) => a + b, 0);
      }
      recall.push({ length, name, logProb });
      log(`recall ${length} ${name}: ${JSON.stringify(logProb)}`);
    }
  }
  json.quality = quality;
  json.recall = recall;
  json.samples = Number(values.samples);
  json.calibration = { windows: calibration.windows, windowLength: calibration.windowLength };
}

if (!values.render && values.only === 'timing') {
  // Prefill time alone: HOMER (uncalibrated; calibration costs nothing at run time) vs one plain pass
  // over the same tokens, each after a warm-up HOMER run, interleaved per length.
  const model = await loadModel(sharedFile('models/stories260K/stories260K.bin'));
  const text = readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8');
  const timing: { length: number; homerMs: number; plainMs: number }[] = [];
  for (const length of list(values.lengths)) {
    const tokens = inputOfLength(model, text, 0, length);
    homerPrefill(model, splitTail(model, tokens.slice(0, 1024)));
    let started = performance.now();
    homerPrefill(model, splitTail(model, tokens));
    const homerMs = performance.now() - started;
    started = performance.now();
    model.forward(tokens);
    const plainMs = performance.now() - started;
    timing.push({ length, homerMs, plainMs });
    log(`timing ${length}: homer ${homerMs.toFixed(0)} ms, plain ${plainMs.toFixed(0)} ms`);
  }
  json.timing = timing;
}

if (!values.render && values.only !== 'quality' && values.only !== 'timing') {
  const points: MemoryPoint[] = [];
  const plan: [MemoryModel, 'homer' | 'plain', number[]][] = [
    ['stories260K', 'homer', list(values.memory)],
    ['stories260K', 'plain', list(values['plain-memory'])],
    ['deep-synthetic', 'homer', list(values['deep-memory'])],
  ];
  for (const [model, method, lengths] of plan) {
    for (const length of lengths) {
      const point = measureInChild(script, model, method, length);
      points.push(point);
      log(
        `memory ${model} ${method} ${length}: engine ${mib(point.engineBytes).toFixed(2)} MiB, rss +${mib(point.rssBytes).toFixed(1)} MiB, ${point.ms.toFixed(0)} ms`,
      );
    }
  }
  const pick = (model: MemoryModel, method: 'homer' | 'plain') =>
    points.filter((p) => p.model === model && p.method === method);
  const fits = (['stories260K', 'deep-synthetic'] as const).map((model) => {
    const series = pick(model, 'homer');
    const engine = fitGrowth(
      series.map((p) => p.tokens),
      series.map((p) => p.engineBytes),
    );
    const rss = fitGrowth(
      series.map((p) => p.tokens),
      series.map((p) => p.rssBytes),
    );
    return { model, engine, rss };
  });
  json.memory = { points, fits };
}

if (json.memory) {
  for (const [name, svg] of Object.entries(renderMemoryCharts(json.memory.points))) {
    writeAtomic(join(outDir, name), svg);
  }
}
const markdown = renderHomerReport(json);
const suffix = values.only ? `-${values.only}` : '';
if (!values.render) writeAtomic(join(outDir, `homer${suffix}.json`), `${JSON.stringify(json, null, 2)}\n`);
writeAtomic(join(outDir, `homer${suffix}.md`), markdown);
process.stdout.write(markdown);
// The README's results section (between markers) is replaced by this run's tables.
const readmePath = join(packageDir, 'README.md');
try {
  const readme = readFileSync(readmePath, 'utf8');
  const marker = `<!-- bench:homer${suffix} -->`;
  const end = `<!-- /bench:homer${suffix} -->`;
  const from = readme.indexOf(marker);
  const to = readme.indexOf(end);
  if (from >= 0 && to > from) {
    const section = `${marker}\nMade by \`pnpm bench:homer${values.only ? ` -- --only ${values.only}` : ''}\` on ${json.date.slice(0, 10)} (Node ${json.node}; a shared, noisy 2-core machine).\n\n${markdown}`;
    const temporary = `${readmePath}.${process.pid}.tmp`;
    writeFileSync(temporary, readme.slice(0, from) + section + readme.slice(to));
    const { renameSync } = await import('node:fs');
    renameSync(temporary, readmePath);
  }
} catch (error) {
  log(`README not updated: ${(error as Error).message}`);
}
