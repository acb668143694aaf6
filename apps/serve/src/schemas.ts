// zod schemas of every request body the server accepts. Parameters OpenAI defines but this server
// cannot honour are accepted only at their neutral value, so a client never silently gets a different
// behaviour from the one it asked for.
import { z } from 'zod';

const neutralPenalty = z
  .number()
  .refine((value) => value === 0, { message: 'only 0 is supported by this server' })
  .nullish();

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish();

const streamOptions = z.object({ include_usage: z.boolean().nullish() }).nullish();

/** The `meld` extension field: per-request KV-cache policy, long context, room for soups. */
export const meldExtensionSchema = z.strictObject({
  kv_cache: z
    .strictObject({
      policy: z.string().min(1),
      budget: z.union([z.number().positive(), z.string().min(1)]).optional(),
      params: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  long_context: z
    .strictObject({
      method: z.literal('homer'),
      prefix: z.string().optional(),
      suffix: z.string().optional(),
    })
    .optional(),
  soup: z.unknown().optional(),
});
export type MeldExtension = z.infer<typeof meldExtensionSchema>;

const sampling = {
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  seed: z.number().int().nullish(),
  stop,
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  presence_penalty: neutralPenalty,
  frequency_penalty: neutralPenalty,
  logit_bias: z
    .record(z.string(), z.number())
    .refine((value) => Object.keys(value).length === 0, { message: 'logit_bias is not supported' })
    .nullish(),
  user: z.string().optional(),
  meld: meldExtensionSchema.optional(),
};

const tokenIds = z.array(z.number().int().min(0)).min(1);

export const completionRequestSchema = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  max_tokens: z.number().int().min(0).nullish(),
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.null().optional(),
  best_of: z
    .number()
    .int()
    .refine((value) => value === 1, { message: 'only best_of 1 is supported' })
    .nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const messageContent = z.union([z.string(), z.array(textPart).min(1)]);

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: messageContent,
  name: z.string().optional(),
});
export type ChatMessageInput = z.infer<typeof chatMessageSchema>;

export const chatRequestSchema = z.object({
  ...sampling,
  messages: z.array(chatMessageSchema).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  tools: z.array(z.unknown()).max(0, { message: 'tools are not supported by this server' }).nullish(),
  response_format: z.object({ type: z.literal('text') }).nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

export const embeddingRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.undefined({ message: 'dimensions is not supported' }).optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

/** POST /tokenize: vLLM's shape (`prompt` or `messages`), with llama.cpp's `content` accepted too. */
export const tokenizeRequestSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.string().optional(),
    content: z.string().optional(),
    messages: z.array(chatMessageSchema).min(1).optional(),
    add_special_tokens: z.boolean().optional(),
    with_pieces: z.boolean().optional(),
  })
  .superRefine((value, context) => {
    const given = [value.prompt, value.content, value.messages].filter((v) => v !== undefined).length;
    if (given !== 1) {
      context.addIssue({
        code: 'custom',
        path: ['prompt'],
        message: 'give exactly one of prompt, content or messages',
      });
    }
  });
export type TokenizeRequest = z.infer<typeof tokenizeRequestSchema>;

export const detokenizeRequestSchema = z.object({
  model: z.string().min(1),
  tokens: z.array(z.number().int().min(0)),
});
export type DetokenizeRequest = z.infer<typeof detokenizeRequestSchema>;
