// pnpm bench:serve: meld-serve on loopback with stories260K, driven by the openai client in a loop.
// Concurrency 1, 4 and 16 with the full KV cache and with a 35% budget (streaming_llm), plus one
// overload level past the server's queue to show the intended 429s. Baseline in the same run: the
// same generations through @meld/runtime in-process (no HTTP, one at a time).
// Bounded: each level stops after --requests requests or --seconds seconds, whichever comes first.
//
//   pnpm bench:serve [-- --requests 32 --seconds 15 --max-tokens 64 --out apps/serve/bench-serve.json]
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModel } from '@meld/runtime';
import OpenAI from 'openai';
import { benchArgs } from './bench-args';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = process.env.MELD_SHARED ? resolve(process.env.MELD_SHARED) : resolve(repoRoot, '..', 'shared');
const modelPath = join(shared, 'models', 'stories260K', 'stories260K.bin');
const serverMain = join(repoRoot, 'apps', 'serve', 'dist', 'main.js');

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    requests: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '15' },
    'max-tokens': { type: 'string', default: '64' },
    out: { type: 'string', default: join(repoRoot, 'apps', 'serve', 'bench-serve.json') },
  },
});
const resultFile = resolve(values.out);
const requestsPerLevel = Number(values.requests);
const secondsPerLevel = Number(values.seconds);
const maxTokens = Number(values['max-tokens']);
const MAX_ACTIVE = 8;
const MAX_QUEUED = 8;

const prompts = [
  'Once upon a time',
  'Lily and Ben went to the zoo',
  'The little dog was sad because',
  'One day, a boy named Tim found a',
];

interface LevelResult {
  name: string;
  concurrency: number;
  requests: number;
  completionTokens: number;
  seconds: number;
  tokensPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  rejected429: number;
  meanPeakKvBytes: number | null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      serverMain,
      '--model',
      modelPath,
      '--port',
      '0',
      '--max-active',
      String(MAX_ACTIVE),
      '--max-queued',
      String(MAX_QUEUED),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('meld-serve did not start within 60 s')), 60_000);
    child.once('exit', (code) =>
      reject(new Error(`meld-serve exited with ${code}; run pnpm --filter @meld/serve build`)),
    );
    lines.on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
  });
  return {
    url,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

async function runLevel(
  client: OpenAI,
  name: string,
  concurrency: number,
  meld: Record<string, unknown> | undefined,
): Promise<LevelResult> {
  const latencies: number[] = [];
  const peaks: number[] = [];
  let started = 0;
  let completionTokens = 0;
  let errors = 0;
  let rejected = 0;
  const begin = performance.now();
  const deadline = begin + secondsPerLevel * 1000;
  const worker = async () => {
    while (started < requestsPerLevel && performance.now() < deadline) {
      const index = started++;
      const params: OpenAI.CompletionCreateParamsNonStreaming & { meld?: Record<string, unknown> } = {
        model: 'stories260K',
        prompt: prompts[index % prompts.length]!,
        max_tokens: maxTokens,
        temperature: 0.8,
        seed: index,
        ...(meld ? { meld } : {}),
      };
      const t0 = performance.now();
      try {
        const completion = await client.completions.create(params);
        latencies.push(performance.now() - t0);
        completionTokens += completion.usage?.completion_tokens ?? 0;
        const usage = completion.usage as
          | (OpenAI.CompletionUsage & { meld?: { kv_cache_peak_bytes: number } })
          | undefined;
        if (usage?.meld) peaks.push(usage.meld.kv_cache_peak_bytes);
      } catch (error) {
        if (error instanceof OpenAI.RateLimitError) rejected++;
        else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    concurrency,
    requests: latencies.length,
    completionTokens,
    seconds,
    tokensPerSecond: completionTokens / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    rejected429: rejected,
    meanPeakKvBytes: peaks.length ? peaks.reduce((a, b) => a + b, 0) / peaks.length : null,
  };
}

async function runInProcess(): Promise<LevelResult> {
  const model = await loadModel(modelPath);
  const latencies: number[] = [];
  let completionTokens = 0;
  const begin = performance.now();
  const deadline = begin + secondsPerLevel * 1000;
  for (let index = 0; index < requestsPerLevel && performance.now() < deadline; index++) {
    const t0 = performance.now();
    const result = await model.generateText(prompts[index % prompts.length]!, {
      maxTokens,
      temperature: 0.8,
      seed: index,
    });
    latencies.push(performance.now() - t0);
    completionTokens += result.completionTokens;
  }
  const seconds = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name: 'runtime in-process (no HTTP)',
    concurrency: 1,
    requests: latencies.length,
    completionTokens,
    seconds,
    tokensPerSecond: completionTokens / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: 0,
    rejected429: 0,
    meanPeakKvBytes: null,
  };
}

function table(results: LevelResult[]): string {
  const rows = [
    '| setup | concurrency | requests | tokens/s | p50 ms | p99 ms | errors | 429s | mean peak KV bytes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    rows.push(
      `| ${r.name} | ${r.concurrency} | ${r.requests} | ${r.tokensPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(0)} | ` +
        `${r.p99Ms.toFixed(0)} | ${r.errors} | ${r.rejected429} | ${r.meanPeakKvBytes === null ? '-' : r.meanPeakKvBytes.toFixed(0)} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const results: LevelResult[] = [await runInProcess()];
  const server = await startServer();
  try {
    const client = new OpenAI({
      baseURL: `${server.url}/v1`,
      apiKey: 'bench',
      maxRetries: 0,
      timeout: 120_000,
    });
    const budget = { kv_cache: { policy: 'streaming_llm', budget: '35%' } };
    for (const concurrency of [1, 4, 16])
      results.push(await runLevel(client, 'meld-serve, full KV', concurrency, undefined));
    for (const concurrency of [1, 4, 16]) {
      results.push(await runLevel(client, 'meld-serve, 35% KV (streaming_llm)', concurrency, budget));
    }
    const overload = MAX_ACTIVE + MAX_QUEUED + 16;
    results.push(
      await runLevel(
        client,
        `meld-serve, overload (capacity ${MAX_ACTIVE}+${MAX_QUEUED})`,
        overload,
        undefined,
      ),
    );
  } finally {
    await server.stop();
  }
  const markdown = table(results);
  process.stdout.write(`${markdown}\n`);
  const payload = {
    command: 'pnpm bench:serve',
    date: new Date().toISOString(),
    node: process.version,
    model: 'stories260K (llama2.c .bin)',
    settings: {
      requestsPerLevel,
      secondsPerLevel,
      maxTokens,
      temperature: 0.8,
      maxActive: MAX_ACTIVE,
      maxQueued: MAX_QUEUED,
    },
    results,
  };
  const temporary = `${resultFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(payload, null, 2)}\n`);
  renameSync(temporary, resultFile);
  process.stdout.write(`results written to ${resultFile}\n`);
}

await main();
