// bench:homer's markdown, rendered from the JSON a run writes (so a report can be re-rendered).
import type { MemoryPoint } from './homer-memory';
import { lineChartSvg, type Series } from './homer-plot';
import { METHODS, type Method, PROBE_NAMES, type QualityRow, type RecallRow } from './homer-quality';

export interface GrowthFit {
  readonly slope: number;
  readonly intercept: number;
  readonly r2: number;
}

export interface HomerBenchJson {
  date: string;
  node: string;
  samples?: number;
  calibration?: { windows: number; windowLength: number };
  quality?: QualityRow[];
  timing?: { length: number; homerMs: number; plainMs: number }[];
  recall?: RecallRow[];
  memory?: {
    points: MemoryPoint[];
    fits: {
      model: string;
      engine: { perDoubling: GrowthFit; perToken: GrowthFit };
      rss: { perDoubling: GrowthFit; perToken: GrowthFit };
    }[];
  };
}

const LABELS: Record<Method, string> = {
  homer: 'HOMER (chunks of 256, calibrated)',
  homerRaw: 'HOMER (chunks of 256, no calibration)',
  homerLong: 'HOMER (chunks of 448, calibrated)',
  last512: 'last 512 tokens',
  plain: 'plain attention',
  pi: 'position interpolation',
};

const mib = (bytes: number) => bytes / 2 ** 20;
const mean = (values: number[]) =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
const header = (lengths: number[]) => [
  `| method | ${lengths.map((l) => `${l / 1024}K`).join(' | ')} |`,
  `|---|${lengths.map(() => '---:').join('|')}|`,
];

export function renderHomerReport(json: HomerBenchJson): string {
  const out: string[] = [];
  if (json.quality?.length) {
    const quality = json.quality;
    const lengths = [...new Set(quality.map((row) => row.length))];
    const at = (length: number, pick: (row: QualityRow) => number | undefined) =>
      mean(
        quality
          .filter((row) => row.length === length)
          .map(pick)
          .filter((v): v is number => v !== undefined),
      );
    out.push(
      '### Perplexity of the final 64 tokens (stories260K, trained on 512 tokens)',
      '',
      ...header(lengths),
      ...METHODS.map(
        (method) =>
          `| ${LABELS[method]} | ${lengths
            .map((length) => {
              const nll = at(length, (row) => row.nll[method]);
              return nll === undefined ? 'not run' : Math.exp(nll).toFixed(2);
            })
            .join(' | ')} |`,
      ),
      '',
      `Inputs: consecutive TinyStories validation text (${json.samples ?? 1} input(s) per length, from the file's start); perplexity over the last 64 tokens given every token before them. HOMER reads the input minus those 64 tokens (suffix: the tail after its last sentence end) and scores them from the merged cache; calibration: ${json.calibration ? `${json.calibration.windows} windows of ${json.calibration.windowLength} tokens from the file's last 100K characters` : 'none'}.`,
      '',
      '### Time of each perplexity run (ms: reading the input and scoring the 64 tokens; sequential in one process while the shared machine’s load changed, so noisy)',
      '',
      ...header(lengths),
      ...(['homer', 'homerRaw', 'homerLong', 'last512', 'plain', 'pi'] as const).map(
        (method) =>
          `| ${LABELS[method]} | ${lengths
            .map((length) => {
              const ms = at(length, (row) => row.ms[method]);
              return ms === undefined ? 'not run' : ms.toFixed(0);
            })
            .join(' | ')} |`,
      ),
      '',
    );
  }
  if (json.timing?.length) {
    out.push(
      '### Prefill time: HOMER vs one plain pass over the same tokens (stories260K)',
      '',
      '| input tokens | HOMER (ms) | plain attention (ms) | plain / HOMER |',
      '|---:|---:|---:|---:|',
      ...json.timing.map(
        (row) =>
          `| ${row.length} | ${row.homerMs.toFixed(0)} | ${row.plainMs.toFixed(0)} | ${(row.plainMs / row.homerMs).toFixed(1)}x |`,
      ),
      '',
      'Measured by `--only timing`: per length, a warm-up HOMER run, then HOMER, then the plain pass, in one process.',
      '',
    );
  }
  if (json.recall?.length) {
    const recall = json.recall;
    const lengths = [...new Set(recall.map((row) => row.length))];
    out.push(
      `### Recall probe: log-probability of a name stated only at the start (mean over ${PROBE_NAMES.join(', ')})`,
      '',
      '"Once upon a time, there was a little friend named NAME. NAME liked to play." + stories that never name any probe name + "The friend from the start was named" → log p(" NAME"). Higher is better.',
      '',
      ...header(lengths),
      ...METHODS.map(
        (method) =>
          `| ${LABELS[method]} | ${lengths
            .map((length) => {
              const value = mean(
                recall
                  .filter((row) => row.length === length)
                  .map((row) => row.logProb[method])
                  .filter((v): v is number => v !== undefined),
              );
              return value === undefined ? 'not run' : value.toFixed(2);
            })
            .join(' | ')} |`,
      ),
      '',
    );
  }
  if (json.memory) {
    const { points, fits } = json.memory;
    out.push(
      '### Peak memory while reading the input',
      '',
      '![engine peak](benchmarks/homer-memory.svg) ![RSS growth](benchmarks/homer-rss.svg)',
      '',
      '| model | method | input tokens | engine peak (MiB) | RSS growth (MiB) | time (s) |',
      '|---|---|---:|---:|---:|---:|',
      ...points.map(
        (p) =>
          `| ${p.model} | ${p.method} | ${p.tokens} | ${mib(p.engineBytes).toFixed(2)} | ${mib(p.rssBytes).toFixed(1)} | ${(p.ms / 1000).toFixed(1)} |`,
      ),
      '',
      "Engine peak: live hidden states + KV + forward buffers (the package's accounting). RSS growth: the highest RSS sampled during the run (HOMER: at each block end; plain: at each attention call) minus the RSS just before it, after a GC; one child process per point (includes V8 heap slack). Fitted growth of HOMER's engine peak, bytes = a + b·log2(tokens) against bytes = a + c·tokens:",
      '',
      '| model | b per doubling (KiB) | R² (log fit) | c per 1K tokens (KiB) | R² (linear fit) | RSS: R² log / linear |',
      '|---|---:|---:|---:|---:|---|',
      ...fits.map(
        (f) =>
          `| ${f.model} | ${(f.engine.perDoubling.slope / 1024).toFixed(1)} | ${f.engine.perDoubling.r2.toFixed(3)} | ${f.engine.perToken.slope.toFixed(2)} | ${f.engine.perToken.r2.toFixed(3)} | ${f.rss.perDoubling.r2.toFixed(2)} / ${f.rss.perToken.r2.toFixed(2)} |`,
      ),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

/** Two charts: the engine accounting and the process RSS growth, against input tokens (log scale). */
export function renderMemoryCharts(points: readonly MemoryPoint[]): Record<string, string> {
  const pick = (model: string, method: string) =>
    points.filter((p) => p.model === model && p.method === method);
  const series = (value: (p: MemoryPoint) => number): Series[] => [
    {
      label: 'HOMER, stories260K',
      color: '#1f77b4',
      points: pick('stories260K', 'homer').map((p) => [p.tokens, mib(value(p))]),
    },
    {
      label: 'HOMER, 16-layer synthetic',
      color: '#2ca02c',
      points: pick('deep-synthetic', 'homer').map((p) => [p.tokens, mib(value(p))]),
    },
    {
      label: 'plain, stories260K',
      color: '#d62728',
      dashed: true,
      points: pick('stories260K', 'plain').map((p) => [p.tokens, mib(value(p))]),
    },
  ];
  return {
    'homer-memory.svg': lineChartSvg(
      'Engine peak (live activations + KV)',
      'MiB',
      series((p) => p.engineBytes),
    ),
    'homer-rss.svg': lineChartSvg(
      'Process RSS growth while reading',
      'MiB',
      series((p) => p.rssBytes),
    ),
  };
}
