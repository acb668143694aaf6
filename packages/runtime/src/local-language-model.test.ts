import type { LanguageModelV1, StreamPart } from '@meld/llm';
import { describeWithShared, sharedFile } from '@meld/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { loadLlama2c } from './load/llama2c';
import { LocalLanguageModel } from './local-language-model';
import type { Model } from './model';

const files = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];

describeWithShared('LocalLanguageModel (LanguageModelV1 for local models)', files, () => {
  let model: Model;
  let local: LanguageModelV1;
  beforeAll(async () => {
    model = await loadLlama2c(sharedFile(files[0]!), sharedFile(files[1]!));
    local = new LocalLanguageModel(model);
  });

  it('doGenerate is greedy by default and counts usage', async () => {
    const result = await local.doGenerate({ prompt: 'Lily and Ben went to the zoo' }, { maxTokens: 12 });
    const direct = await model.generateText('Lily and Ben went to the zoo', {
      temperature: 0,
      maxTokens: 12,
    });
    expect(result.text).toBe(direct.text);
    expect(result.text.startsWith(' with their mom.')).toBe(true);
    expect(result).toMatchObject({
      finishReason: 'length',
      usage: { promptTokens: model.encode('Lily and Ben went to the zoo').length, completionTokens: 12 },
    });
    expect(local.modelId).toBe('local:stories260K.bin');
  });

  it('doStream yields text deltas then a finish part; stop strings end it', async () => {
    const parts: StreamPart[] = [];
    for await (const part of local.doStream(
      { prompt: 'Lily and Ben went to the zoo' },
      { maxTokens: 40, stop: ['box'] },
    ))
      parts.push(part);
    const finish = parts.at(-1);
    expect(finish).toMatchObject({ type: 'finish', finishReason: 'stop' });
    const text = parts.map((p) => (p.type === 'text-delta' ? p.text : '')).join('');
    expect(text).toBe(' with their mom. They saw a big ');
  });

  it('renders chats through a Jinja chat template', async () => {
    const templated = new LocalLanguageModel(model, {
      chatTemplate:
        "{% for m in messages %}{{ m['role'] | upper }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}",
    });
    const tokens = templated.promptTokens({ messages: [{ role: 'user', content: 'Hi' }] });
    expect(model.tokenizer.decode(tokens)).toBe('USER: Hi\nASSISTANT:');
    const result = await templated.doGenerate(
      { messages: [{ role: 'user', content: 'Tell a story' }] },
      { maxTokens: 5 },
    );
    expect(result.usage.completionTokens).toBe(5);
  });

  it('countTokens uses the model tokenizer', async () => {
    expect(await local.countTokens?.('Lily and Ben')).toBe(
      model.encode('Lily and Ben', { addBos: false }).length,
    );
  });
});
