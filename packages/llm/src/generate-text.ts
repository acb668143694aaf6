// The user-facing call: one prompt or chat in, the text out (the `do*` methods are for implementers).
import type {
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
} from './language-model';

export type GenerateTextResult = GenerateResult;

export async function generateText(
  model: LanguageModelV1,
  request: LanguageModelInput & GenerationParameters,
): Promise<GenerateTextResult> {
  const { messages, prompt, ...parameters } = request;
  const input: LanguageModelInput = messages ? { messages } : { prompt: prompt ?? '' };
  return model.doGenerate(input, parameters);
}
