import { describeWithShared, sharedFile } from '@meld/test-utils';
import { expect, it } from 'vitest';
import { readReferenceCases } from '../test-support/reference';
import { runLikeLlama2c } from '../test-support/run-like-llama2c';
import { loadLlama2c } from './llama2c';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'models/stories260K/REFERENCE.md',
];

describeWithShared('llama2.c checkpoint: greedy text equals run.c', files, () => {
  it('reproduces every REFERENCE.md case character for character', async () => {
    const model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    expect(model.config.contextLength).toBe(512);
    const cases = readReferenceCases(sharedFile(files[2]!));
    expect(cases).toHaveLength(3);
    for (const reference of cases) {
      expect(await runLikeLlama2c(model, reference.prompt, reference.steps)).toBe(reference.stdout);
    }
  });
});
