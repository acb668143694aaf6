// The plain chat template used for models whose tokenizer config carries none (stories260K):
//
//   System: {system content}\n
//   User: {user content}\n
//   Assistant: {assistant content}\n
//   ...
//   Assistant:            <- appended when a reply is wanted (no trailing space)
//
// Each turn is `Role: content` on its own line; roles are capitalised. The model sees ordinary text,
// which is the most a base model without chat training can make use of.
import type { ChatTurn } from './engine';

const ROLE_LABELS: Record<ChatTurn['role'], string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
};

export function applyPlainChatTemplate(
  messages: readonly ChatTurn[],
  options: { addGenerationPrompt: boolean },
): string {
  let text = '';
  for (const message of messages) text += `${ROLE_LABELS[message.role]}: ${message.content}\n`;
  if (options.addGenerationPrompt) text += `${ROLE_LABELS.assistant}:`;
  return text;
}
