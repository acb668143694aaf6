// meld's exit codes and one-line errors, through main() with real (missing or present) files.
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { expect, it } from 'vitest';
import { runMeld } from './commands/run-meld-for-tests';

const model = 'models/stories260K/stories260K.bin';

describeWithShared('meld exit codes', [model], () => {
  it('2 for usage errors, naming the flag and pointing to --help', async () => {
    const unknown = await runMeld(['perplexity', '--model', sharedFile(model), '--txt-file', 'a.txt']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('meld perplexity: unknown flag --txt-file\n(see meld perplexity --help)\n');
    const missingValue = await runMeld(['generate', '--model']);
    expect(missingValue.code).toBe(2);
    expect(missingValue.stderr).toMatch(/^meld generate: --model needs a value\n/);
    const badValue = await runMeld(['generate', '--model', sharedFile(model), '--top-p', '2']);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/^meld generate: --top-p: /);
    expect((await runMeld(['no-such-command'])).code).toBe(2);
    expect((await runMeld([])).code).toBe(2);
  });

  it('1 for failures, on one line: a missing model names its flag, a missing file names the file', async () => {
    const missingModel = await runMeld(['generate', '--model', '/nonexistent/model.bin']);
    expect(missingModel.code).toBe(1);
    expect(missingModel.stderr).toBe(
      'meld generate: ValidationError: --model: /nonexistent/model.bin does not exist\n',
    );
    const missingText = await runMeld([
      'perplexity',
      '--model',
      sharedFile(model),
      '--text-file',
      '/nonexistent.txt',
    ]);
    expect(missingText.code).toBe(1);
    expect(missingText.stderr).toMatch(/^meld perplexity: ENOENT: .*\/nonexistent\.txt'\n$/);
  });

  it('0 for success and for --help', async () => {
    expect((await runMeld(['--help'])).code).toBe(0);
    expect((await runMeld(['inspect', sharedFile(model)])).code).toBe(0);
  });
});
