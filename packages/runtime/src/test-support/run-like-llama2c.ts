// What run.c prints for a model, prompt and step count, through the public API: the prompt's pieces
// after BOS, then the generated text, then a newline.
import type { Model } from '../model';

export async function runLikeLlama2c(model: Model, prompt: string, steps: number): Promise<string> {
  const tokens = model.encode(prompt);
  const limit = steps <= 0 || steps > model.config.contextLength ? model.config.contextLength : steps;
  const decoder = model.tokenizer.createDecoder(tokens[0]);
  let out = '';
  for (const token of tokens.slice(1)) out += decoder.push(token);
  const result = await model.generateText(tokens, { temperature: 0, maxTokens: limit - tokens.length + 1 });
  return `${out}${result.text}\n`;
}
