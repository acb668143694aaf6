// Resumability: kill the real meld-summarize process in the middle of a run, run the same command
// again, and check that it finishes, repeats no completed call, and writes what an uninterrupted run writes.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { build } from 'tsup';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BookModelServer, startBookModelServer } from './__fixtures__/book-model-server';

const appRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
// built under node_modules/.cache: ignored by git and the linter, and resolves the app's dependencies
const binary = join(appRoot, 'node_modules', '.cache', 'meld-summarize-test', 'main.js');
const outputs = ['summary.md', 'summaries.json', 'annotations.json', 'score.json', 'report.html'];

let directory: string;
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'meld-resume-'));
  // the bin as a user runs it: bundled src/main.ts (workspace packages resolve to their built dist)
  await build({
    config: false,
    entry: { main: join(appRoot, 'src', 'main.ts') },
    outDir: dirname(binary),
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    dts: false,
    silent: true,
    clean: true,
    external: [/^@meld\//, 'better-sqlite3', 'cli-progress', 'yaml', 'zod'],
  });
}, 120_000);
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * The first ~100 kB of the book (ending at a paragraph), to be cut in 1024-token chunks: 37 calls, as many as
 * the whole book in 4096-token chunks, with a quarter of the tokenizing (the bulk of each run's CPU time).
 */
function bookStart(): string {
  const text = readFileSync(sharedFile('data/books/pg84.txt'), 'utf8');
  const book = join(directory, 'pg84-start.txt');
  writeFileSync(book, `${text.slice(0, text.lastIndexOf('\n\n', 100_000))}\n`);
  return book;
}

function start(
  server: BookModelServer,
  book: string,
  out: string,
): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const args = [
    binary,
    book,
    '--workflow',
    'hier',
    '--chunk-size',
    '1024',
    '--base-url',
    server.baseURL,
    '--model',
    'model-a',
  ];
  const child = spawn(process.execPath, [...args, '--concurrency', '1', '--out', out, '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stdout?.resume();
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr };
}

describeWithShared('meld-summarize resumes after a kill', ['data/books/pg84.txt'], () => {
  it('finishes, makes no completed call twice and writes the same output as an uninterrupted run', async () => {
    // The uninterrupted reference run and the run killed while its 20th call is in flight are independent
    // (own server, own output folder), so they run side by side.
    const book = bookStart();
    const reference = await startBookModelServer();
    const referenceOut = join(directory, 'reference');
    const referenceRun = start(reference, book, referenceOut);
    const server = await startBookModelServer();
    const out = join(directory, 'resumed');
    server.holdAt = 20;
    const killed = start(server, book, out);
    server.onHold = () => killed.child.kill('SIGKILL');
    const [referenceCode, killedCode] = await Promise.all([referenceRun.exit, killed.exit]);
    expect(referenceCode, referenceRun.stderr()).toBe(0);
    expect(killedCode).toBe(null);
    const needed = reference.answered.length;
    await reference.close();
    expect(needed).toBeGreaterThan(30);
    const firstAnswered = [...server.answered];
    expect(firstAnswered).toHaveLength(19);

    // the same command again
    server.holdAt = undefined;
    const answeredBefore = server.answered.length;
    const requestsBefore = server.requests.length;
    const resumed = start(server, book, out);
    expect(await resumed.exit, resumed.stderr()).toBe(0);
    const secondRequests = server.requests.slice(requestsBefore);
    const secondAnswered = server.answered.slice(answeredBefore);
    await server.close();

    const completed = new Set(firstAnswered);
    expect(secondRequests.filter((request) => completed.has(request))).toEqual([]);
    expect(firstAnswered.length + secondAnswered.length).toBe(needed);
    for (const file of outputs) {
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(
        readFileSync(join(referenceOut, file), 'utf8'),
      );
    }
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as {
      calls: number;
      cacheHits: number;
    };
    expect(run).toMatchObject({ calls: needed - 19, cacheHits: 19 });
    // Three runs of the real bin (two at once, then one): about 5 s on a quiet 2-core machine, several times
    // that while the whole suite runs on two busy shared cores; the limit leaves room for a much busier one.
  }, 240_000);
});
