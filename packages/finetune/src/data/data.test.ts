import { loadLlama2c, type Model } from '@meld/runtime';
import { FormatError } from '@meld/tensor-core';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { stories260kFiles } from '../__fixtures__/stories260k';
import { trainingTokenizerFromModel } from '../model/tokenizer-from-runtime';
import { encodeSegments, type TrainingTokenizer } from './encode';
import { packExamples } from './packing';
import { parseJsonl, parsePlainText, recordKeyText } from './records';
import { alpacaTemplate, chatmlTemplate, plainTemplate } from './templates';

describe('JSONL records', () => {
  it('recognises the formats and names the bad line', () => {
    const records = parseJsonl(
      [
        '{"instruction": "Add", "input": "1 and 2", "output": "3"}',
        '',
        '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
        '{"prompt": "Q", "completion": "A"}',
        '{"text": "plain"}',
      ].join('\n'),
    );
    expect(records.map((r) => r.format)).toEqual(['alpaca', 'chat', 'prompt-completion', 'text']);
    expect(recordKeyText(records[0])).toBe('Add 1 and 2');
    expect(() => parseJsonl('{"text": "ok"}\n{"instruction": 5, "output": "x"}', 'd.jsonl')).toThrow(
      /d\.jsonl: line 2: instruction/,
    );
    expect(() => parseJsonl('{"foo": 1}')).toThrow(FormatError);
  });

  it('reads plain text as documents split at <|endoftext|> lines', () => {
    expect(parsePlainText('First story.\n\nStill first.\n<|endoftext|>\nSecond.\n')).toEqual([
      { format: 'text', record: { text: 'First story.\n\nStill first.' } },
      { format: 'text', record: { text: 'Second.' } },
    ]);
    expect(parsePlainText('one document')).toHaveLength(1);
  });

  it("renders Alpaca's template exactly", () => {
    const [entry] = parseJsonl('{"instruction": "Add", "input": "1 and 2", "output": "3"}');
    expect(alpacaTemplate.render(entry)).toEqual([
      {
        text: 'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd\n\n### Input:\n1 and 2\n\n### Response:\n',
        train: false,
      },
      { text: '3', train: true },
    ]);
  });
});

describe('packing', () => {
  it('keeps documents apart: positions restart, attention starts, targets never cross', () => {
    const a = { tokens: Int32Array.from([1, 10, 11, 2]), weights: Uint8Array.from([0, 0, 1, 1]) };
    const b = { tokens: Int32Array.from([1, 20, 2]), weights: Uint8Array.from([0, 1, 1]) };
    const [row, ...rest] = packExamples([a, b], { seqLen: 6 });
    expect(rest).toHaveLength(0);
    expect(Array.from(row.inputIds)).toEqual([1, 10, 11, 1, 20, 0]);
    expect(Array.from(row.targets)).toEqual([10, 11, 2, 20, 2, 0]);
    expect(Array.from(row.weights)).toEqual([0, 1, 1, 1, 1, 0]);
    expect(Array.from(row.positions)).toEqual([0, 1, 2, 0, 1, 0]);
    expect(Array.from(row.documentStarts)).toEqual([0, 0, 0, 3, 3, 5]);
    expect(row.trainedTokens).toBe(4);
    expect(packExamples([a, b], { seqLen: 6, packing: false })).toHaveLength(2);
    // Longer than a row: split into row-sized documents.
    expect(packExamples([a], { seqLen: 2 }).map((r) => Array.from(r.targets))).toEqual([
      [10, 11],
      [2, 0],
    ]);
  });
});

describeWithShared('loss masks with the stories260K tokenizer', stories260kFiles, () => {
  let model: Model;
  let tokenizer: TrainingTokenizer;
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(stories260kFiles[0]), sharedFile(stories260kFiles[1]));
    tokenizer = trainingTokenizerFromModel(model);
  });

  it('trains on the response only (and EOS), with BOS first', () => {
    const [entry] = parseJsonl('{"prompt": "Once upon a time", "completion": " there was a cat."}');
    const encoded = encodeSegments(plainTemplate.render(entry), tokenizer);
    const prompt = tokenizer.encode('Once upon a time', { addBos: false });
    const full = tokenizer.encode('Once upon a time there was a cat.', { addBos: false });
    expect(Array.from(encoded.tokens)).toEqual([1, ...full, 2]);
    expect(Array.from(encoded.weights)).toEqual([0, ...full.map((_, i) => (i < prompt.length ? 0 : 1)), 1]);
    expect(
      model.tokenizer.decode(Array.from(encoded.tokens).filter((_, i) => encoded.weights[i] === 1)),
    ).toContain('there was a cat.');
  });

  it('chat: only assistant turns count', () => {
    const [entry] = parseJsonl(
      '{"messages": [{"role": "user", "content": "Tell a story."}, {"role": "assistant", "content": "Once upon a time."}, {"role": "user", "content": "More."}, {"role": "assistant", "content": "The end."}]}',
    );
    const encoded = encodeSegments(chatmlTemplate.render(entry), tokenizer);
    const trained = Array.from(encoded.tokens).filter((_, i) => encoded.weights[i] === 1);
    const text = model.tokenizer.decode(trained);
    expect(text).toContain('Once upon a time.');
    expect(text).toContain('The end.');
    expect(text).not.toContain('Tell a story');
    expect(text).not.toContain('More.');
  });
});
