import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadLlama2c } from '../load/llama2c';
import { loadModel } from '../load/load-model';
import type { Model } from '../model';
import { readReferenceCases } from '../test-support/reference';
import { runLikeLlama2c } from '../test-support/run-like-llama2c';
import { writeHfFolder } from './write-hf';

const files = [
  'models/stories260K/stories260K.bin',
  'models/stories260K/tok512.bin',
  'models/stories260K/REFERENCE.md',
];

describeWithShared('llama2.c -> Hugging Face folder', files, () => {
  let folder: string;
  let original: Model;
  let converted: Model;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'meld-runtime-hf-'));
    original = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    writeHfFolder(original, folder);
    converted = await loadModel(folder);
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('writes config.json with the trained context and tied embeddings', () => {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'llama',
      max_position_embeddings: 512,
      num_key_value_heads: 4,
      tie_word_embeddings: true,
      meld_stop_at_bos: true,
    });
    expect(converted.format).toBe('hf');
    expect(converted.config).toEqual(original.config);
    expect(converted.tokenizer.kind).toBe('huggingface');
  });

  it('tokenizer.json encodes like llama2.c', () => {
    for (const text of [
      'Lily and Ben went to the zoo',
      'Once upon a time, there was a "big" dog.\nThe end!',
      'naïve café 🙂',
    ]) {
      expect(converted.encode(text)).toEqual(original.encode(text));
    }
  });

  it('an explicit tokenizer.json replaces the vocabulary a GGUF file carries', async () => {
    const gguf = await loadModel(sharedFile('models/stories260K/stories260K.gguf'), {
      tokenizer: join(folder, 'tokenizer.json'),
    });
    expect(gguf.tokenizer.kind).toBe('huggingface');
    expect(gguf.encode('Lily and Ben went to the zoo')).toEqual(
      original.encode('Lily and Ben went to the zoo'),
    );
    await expect(
      loadModel(sharedFile(files[0]!), { tokenizer: join(folder, 'tokenizer.json') }),
    ).rejects.toThrow(/tokenizer\.bin/);
  });

  it('greedy text equals run.c on every REFERENCE.md case', async () => {
    for (const reference of readReferenceCases(sharedFile(files[2]!))) {
      expect(await runLikeLlama2c(converted, reference.prompt, reference.steps)).toBe(reference.stdout);
    }
  });
});
