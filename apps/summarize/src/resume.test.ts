// Resumability: kill the real meld-summarize process in the middle of a run, run the same command
// again, and check that it finishes, repeats no completed call, and writes what an uninterrupted run writes.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

function start(
  server: BookModelServer,
  out: string,
): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const book = sharedFile('data/books/pg84.txt');
  const args = [
    binary,
    book,
    '--workflow',
    'hier',
    '--chunk-size',
    '4096',
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
    // uninterrupted reference run
    const reference = await startBookModelServer();
    const referenceOut = join(directory, 'reference');
    const referenceRun = start(reference, referenceOut);
    expect(await referenceRun.exit, referenceRun.stderr()).toBe(0);
    const needed = reference.answered.length;
    await reference.close();
    expect(needed).toBeGreaterThan(30);

    // killed run: SIGKILL while the 20th call is in flight
    const server = await startBookModelServer();
    const out = join(directory, 'resumed');
    server.holdAt = 20;
    const killed = start(server, out);
    server.onHold = () => killed.child.kill('SIGKILL');
    expect(await killed.exit).toBe(null);
    const firstAnswered = [...server.answered];
    expect(firstAnswered).toHaveLength(19);

    // the same command again
    server.holdAt = undefined;
    const answeredBefore = server.answered.length;
    const requestsBefore = server.requests.length;
    const resumed = start(server, out);
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
  });
});
