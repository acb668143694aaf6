// Training records in the common JSONL instruction formats, validated with zod and normalised into
// segments of text, each marked as trained on (response) or not (prompt).
import { readFileSync } from 'node:fs';
import { FormatError } from '@meld/tensor-core';
import { z } from 'zod';

export const alpacaRecordSchema = z.object({
  instruction: z.string(),
  input: z.string().optional(),
  output: z.string(),
});
export const chatRecordSchema = z.object({
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
});
export const promptCompletionRecordSchema = z.object({ prompt: z.string(), completion: z.string() });
export const textRecordSchema = z.object({ text: z.string().min(1) });

export type AlpacaRecord = z.infer<typeof alpacaRecordSchema>;
export type ChatRecord = z.infer<typeof chatRecordSchema>;

export type TrainingRecord =
  | { format: 'alpaca'; record: AlpacaRecord }
  | { format: 'chat'; record: ChatRecord }
  | { format: 'prompt-completion'; record: z.infer<typeof promptCompletionRecordSchema> }
  | { format: 'text'; record: z.infer<typeof textRecordSchema> };

export type RecordFormat = TrainingRecord['format'];

/** Recognises a record's format by its fields (messages > instruction/output > prompt/completion > text). */
export function parseRecord(value: unknown, file: string, line: number): TrainingRecord {
  const where = `line ${line}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(file, where, 'each line must be a JSON object');
  }
  const attempt = <T>(schema: z.ZodType<T>): T => {
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new FormatError(file, `${where}: ${issue.path.join('.') || '(record)'}`, issue.message);
    }
    return result.data;
  };
  if ('messages' in value) return { format: 'chat', record: attempt(chatRecordSchema) };
  if ('instruction' in value || 'output' in value)
    return { format: 'alpaca', record: attempt(alpacaRecordSchema) };
  if ('prompt' in value || 'completion' in value) {
    return { format: 'prompt-completion', record: attempt(promptCompletionRecordSchema) };
  }
  if ('text' in value) return { format: 'text', record: attempt(textRecordSchema) };
  throw new FormatError(
    file,
    where,
    'unknown record format: expected {instruction, input?, output}, {messages: [...]}, {prompt, completion} or {text}',
  );
}

/** Parses JSONL text (blank lines skipped); errors name the line. */
export function parseJsonl(text: string, file = 'data.jsonl'): TrainingRecord[] {
  const records: TrainingRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new FormatError(file, `line ${i + 1}`, `invalid JSON: ${(error as Error).message}`);
    }
    records.push(parseRecord(value, file, i + 1));
  }
  return records;
}

export function readJsonlFile(path: string): TrainingRecord[] {
  return parseJsonl(readFileSync(path, 'utf8'), path);
}

/** The separator between documents in a plain-text training file (GPT-2's end-of-text marker). */
export const documentSeparator = '<|endoftext|>';

/**
 * Plain text as training records: documents separated by lines holding only `<|endoftext|>`, or the
 * whole text as one document (packing then cuts it into sequences).
 */
export function parsePlainText(text: string): TrainingRecord[] {
  return text
    .split(/^<\|endoftext\|>$/m)
    .map((document) => document.trim())
    .filter((document) => document.length > 0)
    .map((document) => ({ format: 'text', record: { text: document } }));
}

/** A training file: `.txt` is plain text, anything else JSONL. */
export function readTrainingFile(path: string): TrainingRecord[] {
  const text = readFileSync(path, 'utf8');
  return path.toLowerCase().endsWith('.txt') ? parsePlainText(text) : parseJsonl(text, path);
}

/** The text a similarity check compares (Platypus: instruction + ' ' + input). */
export function recordKeyText(entry: TrainingRecord): string {
  switch (entry.format) {
    case 'alpaca':
      return entry.record.input
        ? `${entry.record.instruction} ${entry.record.input}`
        : entry.record.instruction;
    case 'chat':
      return entry.record.messages
        .filter((m) => m.role !== 'assistant')
        .map((m) => m.content)
        .join(' ');
    case 'prompt-completion':
      return entry.record.prompt;
    case 'text':
      return entry.record.text;
  }
}
