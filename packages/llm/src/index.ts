export { APICallError, LLMError, LLMValidationError, validationErrorFromZod } from './errors';
export type {
  ChatMessage,
  FinishReason,
  GenerateResult,
  GenerationParameters,
  LanguageModelInput,
  LanguageModelV1,
  Role,
  StreamPart,
  Usage,
} from './language-model';
