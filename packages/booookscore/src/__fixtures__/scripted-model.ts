// A LanguageModelV1 whose answers come from a script (a function of the prompt), recording every call:
// it stands in for the remote summariser so the workflow rules can be checked call by call.
import type {
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  StreamPart,
} from '@meld/llm';

export interface ScriptedCall {
  prompt: string;
  parameters: GenerationParameters;
}

export class ScriptedModel implements LanguageModelV1 {
  readonly specificationVersion = 'v1' as const;
  readonly modelId = 'scripted:model';
  readonly calls: ScriptedCall[] = [];
  readonly #respond: (prompt: string, call: ScriptedCall, index: number) => string;

  constructor(respond: (prompt: string, call: ScriptedCall, index: number) => string) {
    this.#respond = respond;
  }

  async doGenerate(
    input: LanguageModelInput,
    parameters: GenerationParameters = {},
  ): Promise<GenerateResult> {
    const prompt = input.prompt ?? (input.messages ?? []).map((message) => message.content).join('\n');
    const call = { prompt, parameters };
    this.calls.push(call);
    const text = this.#respond(prompt, call, this.calls.length - 1);
    return { text, finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 } };
  }

  async *doStream(input: LanguageModelInput, parameters?: GenerationParameters): AsyncGenerator<StreamPart> {
    const result = await this.doGenerate(input, parameters);
    yield { type: 'text-delta', text: result.text };
    yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
  }
}

/** The word limit a BooookScore prompt asks for ("within N words" / "less than N words"). */
export function askedWordLimit(prompt: string): number | undefined {
  const match = /(?:within|less than) (\d+(?:\.\d+)?) words/.exec(prompt);
  return match ? Number(match[1]) : undefined;
}

export function words(count: number, word = 'word'): string {
  return `${Array.from({ length: count }, () => word).join(' ')}.`;
}
