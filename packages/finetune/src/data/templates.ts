// Prompt templates as declarations: each turns a record into text segments; a segment marked
// `train` is a response the loss is computed on. Plain text and template-less records train on all.
import type { TrainingRecord } from './records';

export interface TextSegment {
  text: string;
  train: boolean;
}

export interface PromptTemplate {
  readonly name: string;
  readonly reference: string;
  render(entry: TrainingRecord): TextSegment[];
}

const alpacaPreamble =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.';
const alpacaPreambleWithInput =
  'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.';

function renderChat(
  entry: TrainingRecord,
  turn: (role: string, content: string) => { prefix: string; suffix: string },
): TextSegment[] | undefined {
  if (entry.format !== 'chat') return undefined;
  const segments: TextSegment[] = [];
  for (const message of entry.record.messages) {
    const { prefix, suffix } = turn(message.role, message.content);
    if (message.role === 'assistant') {
      segments.push({ text: prefix, train: false }, { text: `${message.content}${suffix}`, train: true });
    } else {
      segments.push({ text: `${prefix}${message.content}${suffix}`, train: false });
    }
  }
  return segments;
}

function renderSimple(
  entry: TrainingRecord,
  instructionPrompt: (instruction: string, input?: string) => string,
) {
  switch (entry.format) {
    case 'alpaca':
      return [
        { text: instructionPrompt(entry.record.instruction, entry.record.input), train: false },
        { text: entry.record.output, train: true },
      ];
    case 'prompt-completion':
      return [
        { text: entry.record.prompt, train: false },
        { text: entry.record.completion, train: true },
      ];
    case 'text':
      return [{ text: entry.record.text, train: true }];
    case 'chat':
      return [];
  }
}

/** Alpaca's template (tatsu-lab/stanford_alpaca), the one Platypus trains with. */
export const alpacaTemplate: PromptTemplate = {
  name: 'alpaca',
  reference: 'https://github.com/arielnlee/Platypus/blob/main/templates/alpaca.json',
  render(entry) {
    const chat = renderChat(entry, (role) => ({
      prefix: role === 'assistant' ? '### Response:\n' : role === 'system' ? '' : '### Instruction:\n',
      suffix: '\n\n',
    }));
    if (chat) return chat;
    return renderSimple(entry, (instruction, input) =>
      input
        ? `${alpacaPreambleWithInput}\n\n### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
        : `${alpacaPreamble}\n\n### Instruction:\n${instruction}\n\n### Response:\n`,
    );
  },
};

/** ChatML (<|im_start|>role ... <|im_end|>), common for chat-tuned models. */
export const chatmlTemplate: PromptTemplate = {
  name: 'chatml',
  reference: 'https://github.com/openai/openai-python/blob/release-v0.28.0/chatml.md',
  render(entry) {
    const chat = renderChat(entry, (role) => ({ prefix: `<|im_start|>${role}\n`, suffix: '<|im_end|>\n' }));
    if (chat) return chat;
    return renderSimple(
      entry,
      (instruction, input) =>
        `<|im_start|>user\n${input ? `${instruction}\n\n${input}` : instruction}<|im_end|>\n<|im_start|>assistant\n`,
    );
  },
};

/** No markup: prompt and response joined by a newline (for small base models such as stories260K). */
export const plainTemplate: PromptTemplate = {
  name: 'plain',
  reference: 'https://github.com/huggingface/trl/blob/main/trl/trainer/sft_trainer.py',
  render(entry) {
    const chat = renderChat(entry, (role) => ({ prefix: role === 'assistant' ? '' : '', suffix: '\n' }));
    if (chat) return chat;
    return renderSimple(entry, (instruction, input) =>
      input ? `${instruction}\n${input}\n` : `${instruction}\n`,
    );
  },
};

export const promptTemplates: ReadonlyMap<string, PromptTemplate> = new Map(
  [alpacaTemplate, chatmlTemplate, plainTemplate].map((t) => [t.name, t]),
);
