// meld-serve: an OpenAI-compatible HTTP server over @meld/runtime.
import { MeldError } from '@meld/tensor-core';
import { runCli } from './cli';

const result = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).catch((error: unknown) => {
  process.stderr.write(`meld-serve: ${MeldError.isInstance(error) ? error.message : String(error)}\n`);
  return { kind: 'exit' as const, code: 1 };
});

if (result.kind === 'exit') {
  process.exitCode = result.code;
} else {
  const { server } = result;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`meld-serve: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`meld-serve: ${signal}: draining in-flight requests\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
