// @meld/llm's LanguageModelV1 for a locally loaded model: prompts are encoded with the model's
// tokenizer, chats rendered through the tokenizer's chat template (@huggingface/jinja) when it has
// one, else a plain "role: content" transcript.
import { Template } from '@huggingface/jinja';
import type {
  ChatMessage,
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  StreamPart,
} from '@meld/llm';
import type { ActiveAdapter } from './engine/lora';
import type { GenerateOptions } from './generation/generate';
import type { Model } from './model';
import { HuggingFaceTokenizer } from './tokenizer/huggingface-tokenizer';

export interface LocalLanguageModelOptions {
  /** Default: 'local:' + the source's file name. */
  readonly modelId?: string;
  /** A Jinja chat template overriding the tokenizer's. */
  readonly chatTemplate?: string;
  /** LoRA adapters applied to every call. */
  readonly adapters?: readonly ActiveAdapter[];
}

function plainTranscript(messages: readonly ChatMessage[]): string {
  return `${messages.map((m) => `${m.role}: ${m.content}`).join('\n')}\nassistant:`;
}

export class LocalLanguageModel implements LanguageModelV1 {
  readonly specificationVersion = 'v1' as const;
  readonly modelId: string;
  readonly model: Model;
  private readonly template?: Template;
  private readonly adapters: readonly ActiveAdapter[];

  constructor(model: Model, options: LocalLanguageModelOptions = {}) {
    this.model = model;
    this.modelId = options.modelId ?? `local:${model.source.split(/[\\/]/).filter(Boolean).pop() ?? 'model'}`;
    const tokenizer = model.tokenizer;
    const source =
      options.chatTemplate ??
      (tokenizer instanceof HuggingFaceTokenizer ? tokenizer.chatTemplate : undefined);
    if (source) this.template = new Template(source);
    this.adapters = options.adapters ?? [];
  }

  /** The prompt tokens for an input (chat template applied for messages). */
  promptTokens(input: LanguageModelInput): number[] {
    if (input.prompt !== undefined) return this.model.encode(input.prompt);
    const messages = input.messages ?? [];
    if (!this.template) return this.model.encode(plainTranscript(messages));
    const tokenizer = this.model.tokenizer;
    const bos = tokenizer instanceof HuggingFaceTokenizer ? tokenizer.bosToken : undefined;
    const eos = tokenizer instanceof HuggingFaceTokenizer ? tokenizer.eosToken : undefined;
    const text = this.template.render({
      messages,
      add_generation_prompt: true,
      bos_token: bos ?? '',
      eos_token: eos ?? '',
    });
    const addBos = !(bos && text.startsWith(bos));
    return this.model.encode(text, { addBos });
  }

  private options(parameters: GenerationParameters = {}): GenerateOptions {
    return {
      temperature: parameters.temperature ?? 0,
      ...(parameters.maxTokens !== undefined ? { maxTokens: parameters.maxTokens } : {}),
      ...(parameters.topP !== undefined ? { topP: parameters.topP } : {}),
      ...(parameters.topK !== undefined ? { topK: parameters.topK } : {}),
      ...(parameters.seed !== undefined ? { seed: parameters.seed } : {}),
      ...(parameters.stop ? { stop: parameters.stop } : {}),
      ...(parameters.signal ? { signal: parameters.signal } : {}),
      ...(this.adapters.length ? { adapters: this.adapters } : {}),
    };
  }

  async doGenerate(input: LanguageModelInput, parameters?: GenerationParameters): Promise<GenerateResult> {
    let text = '';
    for await (const part of this.doStream(input, parameters)) {
      if (part.type === 'text-delta') text += part.text;
      else return { text, finishReason: part.finishReason, usage: part.usage };
    }
    return { text, finishReason: 'error', usage: { promptTokens: 0, completionTokens: 0 } };
  }

  async *doStream(input: LanguageModelInput, parameters?: GenerationParameters): AsyncIterable<StreamPart> {
    const tokens = this.promptTokens(input);
    for await (const event of this.model.generate(tokens, this.options(parameters))) {
      if (event.text) yield { type: 'text-delta', text: event.text };
      if (event.type === 'finish') {
        yield {
          type: 'finish',
          finishReason: event.finishReason,
          usage: { promptTokens: event.promptTokens, completionTokens: event.completionTokens },
        };
      }
    }
  }

  async countTokens(text: string): Promise<number> {
    return this.model.encode(text, { addBos: false }).length;
  }
}
