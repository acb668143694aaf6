// The root demo: start meld-serve with stories260K on a free loopback port, stream one completion
// through the official openai client, print the text, shut the server down.
//   pnpm demo      (builds first; or: node scripts/demo.mjs after a build)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.MELD_SHARED ? resolve(process.env.MELD_SHARED) : resolve(root, '..', 'shared');
const model = join(shared, 'models', 'stories260K', 'stories260K.bin');
const serverMain = join(root, 'apps', 'serve', 'dist', 'main.js');
// The openai client is a dependency of tooling/bench; resolve it from there.
const { OpenAI } = createRequire(join(root, 'tooling', 'bench', 'package.json'))('openai');

for (const [file, hint] of [
  [model, 'set MELD_SHARED to the folder holding models/stories260K'],
  [serverMain, 'build first: pnpm build'],
]) {
  if (!existsSync(file)) {
    process.stderr.write(`demo: ${file} is missing (${hint})\n`);
    process.exit(1);
  }
}

const server = spawn(process.execPath, [serverMain, '--model', model, '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const stopServer = () =>
  new Promise((done) => {
    if (server.exitCode !== null) return done();
    server.once('exit', done);
    server.kill('SIGTERM');
  });

try {
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('meld-serve did not start within 60 s')), 60_000);
    server.once('exit', (code) => reject(new Error(`meld-serve exited with code ${code}`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
  });
  process.stderr.write(`meld-serve is listening on ${url}; streaming a completion:\n\n`);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'demo', maxRetries: 0 });
  const prompt = 'Once upon a time';
  const stream = await client.completions.create({
    model: 'stories260K',
    prompt,
    max_tokens: 200,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  process.stdout.write(prompt);
  let usage;
  for await (const chunk of stream) {
    process.stdout.write(chunk.choices[0]?.text ?? '');
    if (chunk.usage) usage = chunk.usage;
  }
  process.stdout.write('\n');
  if (usage) {
    process.stderr.write(
      `\n${usage.completion_tokens} tokens; peak KV cache ${usage.meld?.kv_cache_peak_bytes ?? '?'} bytes\n`,
    );
  }
} finally {
  await stopServer();
}
